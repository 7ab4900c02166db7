"""Remedies as data and the planner that orders them (DESIGN.md, "plan")."""
