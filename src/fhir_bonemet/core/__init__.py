"""The pure reasoning core: facts in, Assessment out.  Standard library only; no clock, files or network."""
