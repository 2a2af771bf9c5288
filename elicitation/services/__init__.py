"""Every change of state in elicitation: chains and their turns, and term curation."""
