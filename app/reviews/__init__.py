"""Reviews domain."""
