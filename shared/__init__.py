"""The library every help-desk service imports: event contracts, settings, logging and factories."""
