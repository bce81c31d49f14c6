/*
 * main.c - occ's entry point; everything else is in commands.c.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return occ_cli_main(argc, argv);
}
