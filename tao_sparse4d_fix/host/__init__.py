"""What prepares the user's host: the TAO launcher's files, the bundle, SDK jobs,
and reading TAO's inference output. Standard library only: no torch, no TAO,
so it runs in the Python that runs ``tao`` (or submits the jobs).
"""
