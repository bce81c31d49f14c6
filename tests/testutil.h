/*
 * testutil.h - helpers shared by the tests that run the occ binary.
 */
#ifndef OCC_TESTUTIL_H
#define OCC_TESTUTIL_H

#include <sys/types.h>

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

/* A file's content (caller frees): read_text fails the test when it cannot
 * be read, read_text_or_empty gives "" instead. */
char *read_text(const char *path);
char *read_text_or_empty(const char *path);

/* A program's stdout with its last line breaks cut, or NULL when it exits
 * non-zero (caller frees). */
char *capture_out(const char *const *argv);

/* sh -c cmd: its stdout with the last line breaks cut (caller frees);
 * sh_ok also fails the test unless it exits 0. */
char *sh_out(const char *cmd);
char *sh_ok(const char *cmd);

void sleep_ms(long ms);

/* The last 4 KiB of a log file on stderr (path NULL: nothing). */
void print_log_tail(const char *path);

/* The log WAIT_FOR shows when a wait fails (e.g. a background occ's
 * stderr); NULL: none. */
extern const char *wait_log;

/* Poll cond every 100 ms until it holds or deadline_ms passes; otherwise
 * show wait_log's tail and fail the test with the message. A bound, not a
 * measurement. */
#define WAIT_FOR(cond, deadline_ms, ...)                                          \
	do {                                                                      \
		uint64_t until_ = occ_now_ms() + (deadline_ms);                   \
		bool ok_;                                                         \
		while (!(ok_ = (cond)) && occ_now_ms() < until_)                  \
			sleep_ms(100);                                            \
		if (!ok_)                                                         \
			print_log_tail(wait_log);                                 \
		ck_assert_msg(ok_, __VA_ARGS__);                                  \
	} while (0)

/* Point occ run by the tests at dir: XDG_CONFIG_HOME=dir/config,
 * XDG_DATA_HOME=dir/data, NO_COLOR; DOCKER_HOST at a socket that does not
 * exist unless real_docker (then the default daemon). */
void set_test_env(const char *dir, bool real_docker);

/* A fresh temporary directory; caller frees the string. */
char *make_tmpdir(const char *tag);
void remove_tree(const char *dir);

/* OCC_BIN in the background, stdin and stdout /dev/null, its stderr
 * readable as it comes (err collects what was read). stop_after: when not
 * NULL, OCC_FAULT_STOP_AFTER for it (it freezes itself after that many
 * state-changing Docker calls). */
struct occ_bg {
	pid_t pid;
	int err_fd;
	struct occ_strbuf err;
};

void bg_start(struct occ_bg *b, const char *const *args, const char *stop_after);
/* Read b's stderr until it holds text; false when it ended without. */
bool bg_wait_for(struct occ_bg *b, const char *text);
/* The same, looking only at what came from offset from of err on. */
bool bg_wait_for_after(struct occ_bg *b, size_t from, const char *text);
/* Wait until b stopped itself (OCC_FAULT_STOP_AFTER); asserts it did. */
void bg_wait_stopped(struct occ_bg *b);
/* Read b's stderr to its end and reap it: its exit status (128+N: signal N). */
int bg_finish(struct occ_bg *b);

#endif
