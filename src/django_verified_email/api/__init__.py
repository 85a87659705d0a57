"""The JSON API: a thin Django REST framework front end over ``flows``.

Installed with the ``[drf]`` extra. Nothing outside this package imports
Django REST framework, so the rest of the app runs without it.
"""
