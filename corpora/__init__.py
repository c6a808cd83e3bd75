"""Data eligo reads at run time: lexicons, rules, examples and models, each with a SOURCE.md."""
