"""eligo.nlp: clinical notes -> coded concepts with assertion status."""
