/* data_manifest.c - scaffold: replaced by the implementation (issue 7). */
#include "cli.h"
#include <stdio.h>
int cmd_data_fingerprint(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "ember: %s is not implemented yet\n", argv[0]);
    return EXIT_USAGE;
}
int cmd_data_verify(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "ember: %s is not implemented yet\n", argv[0]);
    return EXIT_USAGE;
}
