/*
 * testutil.h - helpers shared by the tests that run the occ binary.
 */
#ifndef OCC_TESTUTIL_H
#define OCC_TESTUTIL_H

#include "model/util.h"

struct run_result {
	int status;               /* exit status; 128+N when killed by signal N */
	struct occ_strbuf out, err;
};

/* Run OCC_BIN with args (NULL-terminated), stdin from /dev/null. */
void run_occ(struct run_result *r, const char *const *args);
/* Same for any program (argv[0] is the path, searched in PATH). */
void run_prog(struct run_result *r, const char *const *argv);
void run_result_release(struct run_result *r);

/* Write a file (test setup); aborts the test on failure. */
void write_text(const char *path, const char *text);

/* Point occ run by the tests at dir: XDG_CONFIG_HOME=dir/config,
 * XDG_DATA_HOME=dir/data, NO_COLOR; DOCKER_HOST at a socket that does not
 * exist unless real_docker (then the default daemon). */
void set_test_env(const char *dir, bool real_docker);

/* A fresh temporary directory; caller frees the string. */
char *make_tmpdir(const char *tag);
void remove_tree(const char *dir);

#endif
