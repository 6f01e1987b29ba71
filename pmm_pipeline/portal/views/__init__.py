"""The browser pages: the NCP's way through, the reviewer's notes, the Secretariat's view. Logic stays in modules.

One module per part of the platform (common holds what they share). Every page that shows a member's resources goes
through access.require first; templates escape everything (no `|safe` anywhere), so nothing a member typed is ever
rendered as markup.
"""
