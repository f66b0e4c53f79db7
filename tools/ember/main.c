#include "ember.h"
#include <stdio.h>
int main(void) { printf("ember %s\n", ember_version()); return 0; }
