"""`audiozoo bench`: every selected model × representation cell trained, evaluated and tabled alike."""
