"""sciinstruct: build scientific-reasoning language models from questions with reference answers."""

__version__ = "0.1.0"
