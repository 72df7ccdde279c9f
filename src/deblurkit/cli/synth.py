"""(placeholder, being written)"""

HELP = "synth (being written)"


def add_arguments(parser):
    pass


def run(args):
    return 0
