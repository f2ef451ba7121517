"""HL7 Infobutton (URL-based) knowledge requests, MedlinePlus Connect style."""
