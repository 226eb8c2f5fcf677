"""Cleaning, point-in-time joins and feature transforms: pure DataFrame -> DataFrame functions."""
