"""(placeholder, being written)"""

HELP = "demo (being written)"


def add_arguments(parser):
    pass


def run(args):
    return 0
