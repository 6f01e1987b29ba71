"""Tests of the package as a whole: its layers, the direction of its imports, the words it defines once."""
