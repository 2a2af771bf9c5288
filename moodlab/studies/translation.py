from modeltranslation.translator import TranslationOptions, register

from moodlab.studies.models import Term


@register(Term)
class TermTranslationOptions(TranslationOptions):
    fields = ("label",)
