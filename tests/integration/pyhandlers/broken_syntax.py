import pitboss


@pitboss.command
def fine():
    return 1

def broken(:
    pass
