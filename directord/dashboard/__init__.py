"""The web dashboard (the ``dashboard`` extra): ``directord dashboard`` beside a server."""
