"""(placeholder, being written)"""

HELP = "eval (being written)"


def add_arguments(parser):
    pass


def run(args):
    return 0
