"""Gantry's ``gantry.automations`` package path: only its ``curators`` module is provided."""
