"""Pictures and sound for people: MusicXML scores (``notation``), WAV audio (``audio``) and PNG plots
(``plot``).
"""
