"""Metadata rules: publication time and zone, titles, bylines and agencies, JSON-LD."""
