/* Stand-in for <criterion/logging.h>: see criterion.h in this directory. */
#include <criterion/criterion.h>
