"""What a buyer sees: the public provenance of a lot (JSON and page) and the GS1 Digital Link resolver."""
