// The entry link's end pages (already taken part, study full): the same code and return
// link as the session's last page, from the JSON the server rendered into the page.

import { showExit } from "./ending.js";
import { createI18n } from "./i18n.js";

const config = JSON.parse(document.getElementById("exit-config").textContent);
showExit(document.querySelector("[data-exit-page]"), config.exit, createI18n(config.strings, config.locale));
