"""Rapport: patient experience and service recovery for dental practices."""
