"""Reading what the user gives us: model files (safely) and calibration / evaluation data."""
