"""Cards: the card model, reading and writing card files, the one validator, the loader and the importers."""
