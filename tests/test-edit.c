/*
 * test-edit.c - surgical edits of the state file (model/edit.c).
 *
 * Each case edits a real-looking state file and asserts three things:
 *  - the exact bytes of the result;
 *  - that only the edited place changed: the window between the common
 *    prefix and suffix of input and output lies within the input lines the
 *    case names (the edited node's lines; for an insertion, the lines on
 *    either side of it);
 *  - that the result is valid YAML (libyaml's own loader here, independent of
 *    edit.c's parser) and the path now holds the new value, the new item, or
 *    nothing (delete).
 * Error cases assert the code, a message substring and, where there is one,
 * the line:col, and that *out is left alone.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/edit.h"
#include "model/state.h"

enum op { SET, DEL, APP };

#define MAX_FIELDS 4

struct edit_case {
	const char *name;
	const char *in;
	enum op op;
	const char *path;
	const char *value;                           /* SET */
	enum occ_edit_style style;                   /* SET */
	struct occ_edit_kv fields[MAX_FIELDS];       /* APP, up to a NULL key */
	const char *want;
	int from, to;        /* input lines (1-based) the change may touch */
};

#define S OCC_EDIT_STRING
#define P OCC_EDIT_PLAIN

/* A typical state file, in pieces (line numbers on the right). */
#define B_TOP \
	"# opencode-cloud desired state\n"         /*  1 */ \
	"version: 1\n"                             /*  2 */ \
	"name: opencode-cloud   # project name\n"  /*  3 */ \
	"\n"                                       /*  4 */
#define B_CONT "container:\n"                  /*  5 */
#define B_PORT "  port: 3000         # published port\n" /* 6 */
#define B_BIND "  bind: '127.0.0.1'\n"         /*  7 */
#define B_ENV \
	"  env:\n"                                 /*  8 */ \
	"    TZ: \"Europe/Paris\"\n"               /*  9 */
#define B_RESTART "  restart: unless-stopped\n" /* 10 */
#define B_USERS "\n" "users:\n"                /* 11-12 */
#define B_ALICE \
	"  - name: alice\n"                        /* 13 */ \
	"    password_hash: \"$y$j9T$abc\"\n"      /* 14 */ \
	"    enabled: true\n"                      /* 15 */
#define B_BOB \
	"  - name: bob   # on leave\n"             /* 16 */ \
	"    enabled: false\n"                     /* 17 */
#define B_HOSTS "\n" "# remote machines\n" "hosts:\n" /* 18-20 */
#define B_LAB \
	"- name: lab\n"                            /* 21 */ \
	"  address: 10.0.0.5\n"                    /* 22 */ \
	"  port: 22\n"                             /* 23 */
#define B_AFTER_CONT B_USERS B_ALICE B_BOB B_HOSTS B_LAB
#define BASE B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_AFTER_CONT

/* The same kind of file in flow style. */
#define F_VER "version: 1\n"                                               /* 1 */
#define F_CONT "container: {port: 3000, bind: 127.0.0.1}   # flow\n"       /* 2 */
#define F_USERS "users: [{name: alice, enabled: true}, {name: bob}]\n"     /* 3 */
#define F_MOUNTS "mounts: []\n"                                            /* 4 */
#define FLOW F_VER F_CONT F_USERS F_MOUNTS

#define CRLF "version: 1\r\n" "container:\r\n" "  port: 3000 # p\r\n" "users:\r\n" \
	"- name: alice\r\n"

#define FOUR "container:\n" "    port: 3000\n" "users:\n" "    -   name: alice\n" \
	"        enabled: true\n"

static const struct edit_case cases[] = {
	/* set: replacing scalars in a block file */
	{ "set port keeps its comment", BASE, SET, "container.port", "3001", P, {{0}},
	  B_TOP B_CONT "  port: 3001         # published port\n" B_BIND B_ENV B_RESTART
	  B_AFTER_CONT, 6, 6 },
	{ "set keeps single quotes", BASE, SET, "container.bind", "0.0.0.0", S, {{0}},
	  B_TOP B_CONT B_PORT "  bind: '0.0.0.0'\n" B_ENV B_RESTART B_AFTER_CONT, 7, 7 },
	{ "set keeps double quotes", BASE, SET, "container.env.TZ", "UTC", S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND "  env:\n    TZ: \"UTC\"\n" B_RESTART B_AFTER_CONT, 9, 9 },
	{ "set plain stays plain", BASE, SET, "container.restart", "always", S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV "  restart: always\n" B_AFTER_CONT, 10, 10 },
	{ "set string that reads as bool is quoted", BASE, SET, "name", "yes", S, {{0}},
	  "# opencode-cloud desired state\nversion: 1\nname: \"yes\"   # project name\n\n"
	  B_CONT B_PORT B_BIND B_ENV B_RESTART B_AFTER_CONT, 3, 3 },
	{ "set plain string", BASE, SET, "name", "my-project", S, {{0}},
	  "# opencode-cloud desired state\nversion: 1\nname: my-project   # project name\n\n"
	  B_CONT B_PORT B_BIND B_ENV B_RESTART B_AFTER_CONT, 3, 3 },
	{ "set bool in a user by name", BASE, SET, "users[name=bob].enabled", "true", P, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_ALICE
	  "  - name: bob   # on leave\n    enabled: true\n" B_HOSTS B_LAB, 17, 17 },
	{ "set host port, indentless list", BASE, SET, "hosts[name=lab].port", "2222", P, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_ALICE B_BOB B_HOSTS
	  "- name: lab\n  address: 10.0.0.5\n  port: 2222\n", 23, 23 },

	/* set: creating keys in a block file */
	{ "set new key after the mapping's last entry", BASE, SET, "container.env.LANG",
	  "C.UTF-8", S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV "    LANG: C.UTF-8\n" B_RESTART B_AFTER_CONT, 9, 10 },
	{ "set creates a nested mapping", BASE, SET, "container.health.path", "/healthz", S,
	  {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART "  health:\n    path: /healthz\n"
	  B_AFTER_CONT, 10, 11 },
	{ "set creates a top-level key at the end", BASE, SET, "service.install", "false", P,
	  {{0}}, BASE "service:\n  install: false\n", 23, 23 },
	{ "set new key in a user item", BASE, SET, "users[name=alice].shell", "/bin/zsh", S,
	  {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_ALICE "    shell: /bin/zsh\n"
	  B_BOB B_HOSTS B_LAB, 15, 16 },
	{ "set new key in an indentless item", BASE, SET, "hosts[name=lab].user", "root", S,
	  {{0}}, BASE "  user: root\n", 23, 23 },
	{ "set quotes a new number-like string", BASE, SET, "container.env.PORT", "3001", S,
	  {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV "    PORT: \"3001\"\n" B_RESTART B_AFTER_CONT, 9, 10 },
	{ "set under a selector creates nested keys", BASE, SET,
	  "hosts[name=lab].overrides.container.port", "3001", P, {{0}},
	  BASE "  overrides:\n    container:\n      port: 3001\n", 23, 23 },

	/* set: flow style */
	{ "set in a flow mapping", FLOW, SET, "container.port", "3001", P, {{0}},
	  F_VER "container: {port: 3001, bind: 127.0.0.1}   # flow\n" F_USERS F_MOUNTS, 2, 2 },
	{ "set adds to a flow mapping", FLOW, SET, "container.restart", "always", S, {{0}},
	  F_VER "container: {port: 3000, bind: 127.0.0.1, restart: always}   # flow\n"
	  F_USERS F_MOUNTS, 2, 2 },
	{ "set nests in a flow mapping", FLOW, SET, "container.env.TZ", "Europe/Paris", S,
	  {{0}},
	  F_VER "container: {port: 3000, bind: 127.0.0.1, env: {TZ: Europe/Paris}}   # flow\n"
	  F_USERS F_MOUNTS, 2, 2 },
	{ "set in a flow list item", FLOW, SET, "users[name=bob].enabled", "false", P, {{0}},
	  F_VER F_CONT "users: [{name: alice, enabled: true}, {name: bob, enabled: false}]\n"
	  F_MOUNTS, 3, 3 },
	{ "set quotes ':' in flow", "image: {ref: x}\n", SET, "image.build.args.HTTP_PROXY",
	  "http://proxy:3128", S, {{0}},
	  "image: {ref: x, build: {args: {HTTP_PROXY: \"http://proxy:3128\"}}}\n", 1, 1 },
	{ "set into an empty flow mapping", "version: 1\ncontainer: {}\n", SET,
	  "container.env.TZ", "UTC", S, {{0}},
	  "version: 1\ncontainer: {env: {TZ: UTC}}\n", 2, 2 },
	{ "set a block key in a flow file", FLOW, SET, "image.ref", "opencode-cloud:1.2", S,
	  {{0}}, FLOW "image:\n  ref: opencode-cloud:1.2\n", 4, 4 },

	/* set: line endings, BOM, empty files, document markers */
	{ "set keeps CRLF", CRLF, SET, "container.port", "3001", P, {{0}},
	  "version: 1\r\ncontainer:\r\n  port: 3001 # p\r\nusers:\r\n- name: alice\r\n", 3, 3 },
	{ "set new key with CRLF", CRLF, SET, "container.bind", "0.0.0.0", S, {{0}},
	  "version: 1\r\ncontainer:\r\n  port: 3000 # p\r\n  bind: 0.0.0.0\r\nusers:\r\n"
	  "- name: alice\r\n", 3, 4 },
	{ "set with no final newline", "version: 1\nname: web", SET, "name", "api", S, {{0}},
	  "version: 1\nname: api", 2, 2 },
	{ "set appends with no final newline", "version: 1\nname: web", SET, "container.port",
	  "3001", P, {{0}}, "version: 1\nname: web\ncontainer:\n  port: 3001", 2, 2 },
	{ "set keeps a BOM", "\xef\xbb\xbfversion: 1\nname: a\n", SET, "name", "b", S, {{0}},
	  "\xef\xbb\xbfversion: 1\nname: b\n", 2, 2 },
	{ "set in an empty file", "", SET, "version", "1", P, {{0}}, "version: 1\n", 1, 1 },
	{ "set in a file of comments", "# occ state file\n# edit with care\n", SET,
	  "container.port", "3001", P, {{0}},
	  "# occ state file\n# edit with care\ncontainer:\n  port: 3001\n", 2, 2 },
	{ "set before '...'", "---\nversion: 1\n...\n", SET, "name", "web", S, {{0}},
	  "---\nversion: 1\nname: web\n...\n", 2, 3 },

	/* set: empty and null values */
	{ "set under an empty key", "version: 1\ncontainer:\nusers: []\n", SET,
	  "container.port", "3001", P, {{0}},
	  "version: 1\ncontainer:\n  port: 3001\nusers: []\n", 2, 2 },
	{ "set under '~' keeps the comment", "container: ~   # later\n", SET,
	  "container.env.TZ", "UTC", S, {{0}},
	  "container:   # later\n  env:\n    TZ: UTC\n", 1, 1 },
	{ "set an empty value", "container:\n  port:\n  bind: 127.0.0.1\n", SET,
	  "container.port", "3001", P, {{0}},
	  "container:\n  port: 3001\n  bind: 127.0.0.1\n", 2, 2 },

	/* set: indentation, anchors, scalar styles */
	{ "set follows 4-space indentation", FOUR, SET, "container.env.TZ", "UTC", S, {{0}},
	  "container:\n    port: 3000\n    env:\n        TZ: UTC\n"
	  "users:\n    -   name: alice\n        enabled: true\n", 2, 3 },
	{ "set replaces an alias", "defaults: &port 3000\ncontainer:\n  port: *port\n", SET,
	  "container.port", "3001", P, {{0}},
	  "defaults: &port 3000\ncontainer:\n  port: 3001\n", 3, 3 },
	{ "set keeps an unused anchor", "container:\n  port: &p 3000\n", SET,
	  "container.port", "3001", P, {{0}}, "container:\n  port: &p 3001\n", 2, 2 },
	{ "set replaces a block scalar",
	  "container:\n  env:\n    MOTD: |\n      hello\n      world\n    TZ: UTC\n", SET,
	  "container.env.MOTD", "hi", S, {{0}},
	  "container:\n  env:\n    MOTD: hi\n    TZ: UTC\n", 3, 5 },
	{ "set keeps single quotes with a quote", "container:\n  env:\n    G: 'it''s'\n", SET,
	  "container.env.G", "it's me", S, {{0}},
	  "container:\n  env:\n    G: 'it''s me'\n", 3, 3 },
	{ "set escapes control characters", "container:\n  env:\n    X: a\n", SET,
	  "container.env.X", "l1\nl2\t\"q\"", S, {{0}},
	  "container:\n  env:\n    X: \"l1\\nl2\\t\\\"q\\\"\"\n", 3, 3 },
	{ "set matches a quoted selector value",
	  "users:\n  - name: \"alice\"\n    enabled: true\n", SET, "users[name=alice].enabled",
	  "false", P, {{0}}, "users:\n  - name: \"alice\"\n    enabled: false\n", 3, 3 },

	/* delete */
	{ "delete a key and its comment", BASE, DEL, "container.port", NULL, S, {{0}},
	  B_TOP B_CONT B_BIND B_ENV B_RESTART B_AFTER_CONT, 6, 6 },
	{ "delete a nested mapping", BASE, DEL, "container.env", NULL, S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_RESTART B_AFTER_CONT, 8, 9 },
	{ "delete a user", BASE, DEL, "users[name=alice]", NULL, S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_BOB B_HOSTS B_LAB, 13, 15 },
	{ "delete the last user item", BASE, DEL, "users[name=bob]", NULL, S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_ALICE B_HOSTS B_LAB, 16, 17 },
	{ "delete the only host leaves []", BASE, DEL, "hosts[name=lab]", NULL, S, {{0}},
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_ALICE B_BOB
	  "\n# remote machines\nhosts: []\n", 20, 23 },
	{ "delete a top-level key", BASE, DEL, "name", NULL, S, {{0}},
	  "# opencode-cloud desired state\nversion: 1\n\n" B_CONT B_PORT B_BIND B_ENV B_RESTART
	  B_AFTER_CONT, 3, 3 },
	{ "delete keeps the comment above",
	  "container:\n  # the published port\n  port: 3000\n  bind: x\n", DEL,
	  "container.port", NULL, S, {{0}},
	  "container:\n  # the published port\n  bind: x\n", 3, 3 },
	{ "delete the only key leaves {}", "container:\n  env:\n    TZ: UTC  # tz\nname: x\n",
	  DEL, "container.env.TZ", NULL, S, {{0}}, "container:\n  env: {}\nname: x\n", 2, 3 },
	{ "delete the first key of an item",
	  "mounts:\n  - source: ~/src   # code\n    target: /src\n", DEL,
	  "mounts[target=/src].source", NULL, S, {{0}}, "mounts:\n  - target: /src\n", 2, 3 },
	{ "delete first in a flow mapping", FLOW, DEL, "container.port", NULL, S, {{0}},
	  F_VER "container: {bind: 127.0.0.1}   # flow\n" F_USERS F_MOUNTS, 2, 2 },
	{ "delete last in a flow mapping", FLOW, DEL, "container.bind", NULL, S, {{0}},
	  F_VER "container: {port: 3000}   # flow\n" F_USERS F_MOUNTS, 2, 2 },
	{ "delete in a flow list", FLOW, DEL, "users[name=alice]", NULL, S, {{0}},
	  F_VER F_CONT "users: [{name: bob}]\n" F_MOUNTS, 3, 3 },
	{ "delete with CRLF", CRLF, DEL, "container.port", NULL, S, {{0}},
	  "version: 1\r\ncontainer: {}\r\nusers:\r\n- name: alice\r\n", 2, 3 },
	{ "delete the last line without newline", "version: 1\nname: web", DEL, "name", NULL, S,
	  {{0}}, "version: 1", 1, 2 },
	{ "delete in a document with ---", "---\nversion: 1\nname: web\n", DEL, "version",
	  NULL, S, {{0}}, "---\nname: web\n", 2, 2 },
	{ "delete an alias use", "p: &p 3000\nq: *p\n", DEL, "q", NULL, S, {{0}},
	  "p: &p 3000\n", 2, 2 },

	/* append */
	{ "append a user", BASE, APP, "users", NULL, S,
	  { { "name", "carol", S }, { "enabled", "true", P } },
	  B_TOP B_CONT B_PORT B_BIND B_ENV B_RESTART B_USERS B_ALICE B_BOB
	  "  - name: carol\n    enabled: true\n" B_HOSTS B_LAB, 17, 18 },
	{ "append a host, indentless", BASE, APP, "hosts", NULL, S,
	  { { "name", "edge", S }, { "address", "10.0.0.6", S } },
	  BASE "- name: edge\n  address: 10.0.0.6\n", 23, 23 },
	{ "append creates the list", BASE, APP, "mounts", NULL, S,
	  { { "source", "~/src", S }, { "target", "/home/alice/src", S },
	    { "readonly", "false", P } },
	  BASE "mounts:\n  - source: ~/src\n    target: /home/alice/src\n    readonly: false\n",
	  23, 23 },
	{ "append creates a nested list", BASE, APP, "hosts[name=lab].overrides.mounts", NULL,
	  S, { { "source", "/srv", S }, { "target", "/srv", S } },
	  BASE "  overrides:\n    mounts:\n      - source: /srv\n        target: /srv\n", 23, 23 },
	{ "append to a flow list", FLOW, APP, "users", NULL, S, { { "name", "carol", S } },
	  F_VER F_CONT "users: [{name: alice, enabled: true}, {name: bob}, {name: carol}]\n"
	  F_MOUNTS, 3, 3 },
	{ "append to an empty flow list", FLOW, APP, "mounts", NULL, S,
	  { { "source", "/srv", S }, { "target", "/data", S } },
	  F_VER F_CONT F_USERS "mounts: [{source: /srv, target: /data}]\n", 4, 4 },
	{ "append under an empty key", "version: 1\nusers:\n", APP, "users", NULL, S,
	  { { "name", "alice", S } }, "version: 1\nusers:\n  - name: alice\n", 2, 2 },
	{ "append with CRLF", CRLF, APP, "users", NULL, S, { { "name", "bob", S } },
	  CRLF "- name: bob\r\n", 5, 5 },
	{ "append with no final newline", "users:\n  - name: a", APP, "users", NULL, S,
	  { { "name", "b", S } }, "users:\n  - name: a\n  - name: b", 2, 2 },
	{ "append follows wide items", FOUR, APP, "users", NULL, S,
	  { { "name", "bob", S }, { "enabled", "false", P } },
	  FOUR "    -   name: bob\n        enabled: false\n", 5, 5 },
	{ "append follows indentless lists", "hosts:\n- name: lab\n", APP, "mounts", NULL, S,
	  { { "source", "/a", S }, { "target", "/b", S } },
	  "hosts:\n- name: lab\nmounts:\n- source: /a\n  target: /b\n", 2, 2 },
	{ "append in a file of comments", "---\n# nothing yet\n", APP, "users", NULL, S,
	  { { "name", "alice", S } }, "---\n# nothing yet\nusers:\n  - name: alice\n", 2, 2 },

	/* layouts the fuzzer found */
	{ "delete the only item of an anchored list", "users: &u\n  - name: alice\nname: x\n",
	  DEL, "users[name=alice]", NULL, S, {{0}}, "users: &u []\nname: x\n", 1, 2 },
	{ "delete the only key of an anchored mapping", "container: &c\n  port: 1\n", DEL,
	  "container.port", NULL, S, {{0}}, "container: &c {}\n", 1, 2 },
	{ "delete after a block scalar keeps its break", "a: |\n  x\nb: 1", DEL, "b", NULL, S,
	  {{0}}, "a: |\n  x\n", 3, 3 },
	{ "set moves a value below its key up", "name:\n  web\nversion: 1\n", SET, "name",
	  "api", S, {{0}}, "name: api\nversion: 1\n", 1, 2 },
	{ "delete with a trailing comma", "container: {port: 3000, }\n", DEL, "container.port",
	  NULL, S, {{0}}, "container: {}\n", 1, 1 },
	{ "add after an empty flow value", "image: {ref:\n }\n", SET, "image.pull", "never", S,
	  {{0}}, "image: {ref: , pull: never\n }\n", 1, 1 },
	{ "set keeps a tag", "name: !!str web\n", SET, "name", "api", S, {{0}},
	  "name: !!str api\n", 1, 1 },
	{ "add after a block scalar and its blank line",
	  "container:\n  env:\n    MOTD: |\n      hi\n\n  port: 1\n", SET, "container.env.TZ",
	  "UTC", S, {{0}},
	  "container:\n  env:\n    MOTD: |\n      hi\n\n    TZ: UTC\n  port: 1\n", 5, 6 },
};

struct error_case {
	const char *name;
	const char *in;
	enum op op;
	const char *path;
	int code;
	const char *msg;     /* substring of err.msg */
	int line, col;       /* 0: not checked */
};

#define ALIASED "base: &b {port: 1}\nother: *b\n"

static const struct error_case errors[] = {
	{ "delete a missing key", BASE, DEL, "container.nope", OCC_ENOTFOUND,
	  "cannot edit 'container.nope': no key 'nope' in 'container'", 6, 3 },
	{ "delete a missing top-level key", BASE, DEL, "watch", OCC_ENOTFOUND,
	  "no key 'watch' at the top level", 2, 1 },
	{ "edit through a scalar", BASE, SET, "container.port.x", OCC_EINVALID,
	  "'container.port' is a scalar, not a mapping", 6, 9 },
	{ "edit through a list without a selector", BASE, SET, "users.enabled", OCC_EINVALID,
	  "'users' is a sequence, not a mapping", 13, 3 },
	{ "selector on a mapping", BASE, SET, "container[name=x].port", OCC_EINVALID,
	  "'container' is a mapping, not a sequence", 6, 3 },
	{ "set a mapping", BASE, SET, "container", OCC_EINVALID,
	  "it is a mapping, not a scalar", 6, 3 },
	{ "append to a mapping", BASE, APP, "container", OCC_EINVALID,
	  "it is a mapping, not a sequence", 6, 3 },
	{ "edit inside an alias target", ALIASED, SET, "base.port", OCC_EINVALID,
	  "cannot edit 'base.port': it is shared through the anchor '&b' at 1:7", 1, 7 },
	{ "edit through an alias", ALIASED, SET, "other.port", OCC_EINVALID,
	  "cannot edit 'other.port': it is shared through the anchor '&b' at 1:7", 1, 7 },
	{ "delete inside an alias target", ALIASED, DEL, "base.port", OCC_EINVALID,
	  "it is shared through the anchor '&b'", 1, 7 },
	{ "set an anchored scalar", "p: &p 3000\nq: *p\n", SET, "p", OCC_EINVALID,
	  "it is shared through the anchor '&p' at 1:4", 1, 4 },
	{ "delete an anchor in use", "p: &p 3000\nq: *p\n", DEL, "p", OCC_EINVALID,
	  "it is shared through the anchor '&p' at 1:4", 1, 4 },
	{ "append to an aliased list", "a: &l [x]\nb: *l\n", APP, "b", OCC_EINVALID,
	  "it is shared through the anchor '&l' at 1:4", 1, 4 },
	{ "bad path: empty key", BASE, SET, "container..port", OCC_EUSAGE,
	  "invalid path 'container..port': empty key", 0, 0 },
	{ "bad path: empty", BASE, DEL, "", OCC_EUSAGE, "empty key", 0, 0 },
	{ "bad path: trailing dot", BASE, SET, "container.", OCC_EUSAGE, "empty key", 0, 0 },
	{ "bad path: unclosed selector", BASE, SET, "users[name=alice", OCC_EUSAGE,
	  "expected a value and ']'", 0, 0 },
	{ "bad path: selector without =", BASE, SET, "users[alice].x", OCC_EUSAGE,
	  "expected [field=value]", 0, 0 },
	{ "bad path: text after ]", BASE, SET, "users[name=a]x", OCC_EUSAGE,
	  "expected '.' after ']'", 0, 0 },
	{ "set: no such item", BASE, SET, "users[name=zed].enabled", OCC_ENOTFOUND,
	  "no item with name=zed in 'users'", 13, 3 },
	{ "delete: no such item", BASE, DEL, "hosts[name=zed]", OCC_ENOTFOUND,
	  "no item with name=zed in 'hosts'", 21, 1 },
	{ "set: list missing", "version: 1\n", SET, "users[name=a].enabled", OCC_ENOTFOUND,
	  "no key 'users' at the top level", 1, 1 },
	{ "two items match", "users:\n- name: a\n- name: a\n", SET, "users[name=a].x",
	  OCC_EINVALID, "more than one item with name=a in 'users' (2:3 and 3:3)", 3, 3 },
	{ "duplicate key", "a: 1\na: 2\n", SET, "a", OCC_EINVALID,
	  "duplicate key 'a' at the top level", 2, 1 },
	{ "not YAML", "a: [1, 2\n", SET, "a", OCC_ESYNTAX, "the file is not valid YAML", 2, 1 },
	{ "not UTF-8", "a: 1\nb: \xff\n", SET, "a", OCC_ESYNTAX, "not valid UTF-8", 2, 4 },
	{ "two documents", "a: 1\n---\nb: 2\n", SET, "a", OCC_EINVALID,
	  "more than one YAML document", 2, 1 },
	{ "root is a list", "- a\n- b\n", SET, "a", OCC_EINVALID,
	  "the top level is a sequence, not a mapping", 1, 1 },
	{ "undefined alias", "a: *x\n", SET, "a", OCC_ESYNTAX, "undefined alias", 1, 4 },
	{ "explicit keys are left alone", "? a\n: 1\n", SET, "b", OCC_EGENERIC,
	  "not one occ rewrites", 1, 1 },
	{ "a block scalar ends the file", "a: |\n  x", SET, "b", OCC_EGENERIC,
	  "not one occ rewrites", 0, 0 },
	{ "a BOM inside the file", "a: 1\n\xef\xbb\xbf", SET, "a", OCC_EGENERIC,
	  "not one occ rewrites", 2, 1 },
};

/* ---- helpers ---- */

static size_t n_fields(const struct edit_case *c)
{
	size_t n = 0;

	while (n < MAX_FIELDS && c->fields[n].key)
		n++;
	return n;
}

static int run(const struct edit_case *c, const char *in, size_t len, char **out,
	       size_t *out_len, struct occ_error *err)
{
	if (c->op == SET)
		return occ_edit_set(out, out_len, in, len, c->path, c->value, c->style, err);
	if (c->op == DEL)
		return occ_edit_delete(out, out_len, in, len, c->path, err);
	return occ_edit_append(out, out_len, in, len, c->path, c->fields, n_fields(c), err);
}

/* Byte offset where 1-based line starts (len past the last line). */
static size_t line_offset(const char *s, size_t len, int line)
{
	size_t i = 0;

	while (line > 1 && i < len) {
		if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n')))
			line--;
		i++;
	}
	return i;
}

/*
 * The input bytes [*start, *end) that differ from the output, widened to
 * whole lines: a byte-level window is ambiguous when a deleted or inserted
 * line starts like its neighbour ("  port:" before "  bind:").
 */
static void changed_window(const char *a, size_t na, const char *b, size_t nb,
			   size_t *start, size_t *end)
{
	size_t p = 0, s = 0, min = na < nb ? na : nb, e;

	while (p < min && a[p] == b[p])
		p++;
	while (p > 0 && a[p - 1] != '\n')
		p--;
	while (s < min - p && a[na - 1 - s] == b[nb - 1 - s])
		s++;
	e = na - s;
	while (e < na && e > 0 && a[e - 1] != '\n')
		e++;
	*start = p;
	*end = e > p ? e : p;
}

/* The value of key in a libyaml mapping node, or NULL. */
static yaml_node_t *map_value(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(doc, pair->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, pair->value);
	}
	return NULL;
}

static const char *scalar_value(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The item of a libyaml sequence node whose field is want, or NULL. */
static yaml_node_t *seq_select(yaml_document_t *doc, yaml_node_t *seq, const char *field,
			       const char *want)
{
	yaml_node_item_t *item;

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (item = seq->data.sequence.items.start; item < seq->data.sequence.items.top; item++) {
		yaml_node_t *it = yaml_document_get_node(doc, *item);
		const char *v = scalar_value(map_value(doc, it, field));

		if (v && !strcmp(v, want))
			return it;
	}
	return NULL;
}

/* Look path up in a libyaml document, independently of edit.c: NULL when
 * missing. */
static yaml_node_t *lookup(yaml_document_t *doc, const char *path)
{
	char *copy = strdup(path), *p = copy;
	yaml_node_t *cur = yaml_document_get_root_node(doc);

	while (cur && *p) {
		char *key = p, *field, *want;

		p += strcspn(p, ".[");
		if (*p != '[') {
			if (*p)
				*p++ = '\0';
			cur = map_value(doc, cur, key);
			continue;
		}
		*p++ = '\0';
		field = p;
		p += strcspn(p, "=");
		*p++ = '\0';
		want = p;
		p += strcspn(p, "]");
		*p++ = '\0';
		if (*p)
			p++;
		cur = seq_select(doc, map_value(doc, cur, key), field, want);
	}
	free(copy);
	return cur;
}

/* The result re-parses (with libyaml's loader) and holds the edit. */
static void check_reparse(const struct edit_case *c, const char *out, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *n, *last;
	size_t i;

	ck_assert(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)out, len);
	ck_assert_msg(yaml_parser_load(&parser, &doc), "%s: result is not YAML: %s", c->name,
		      parser.problem);
	n = lookup(&doc, c->path);
	if (c->op == DEL) {
		ck_assert_msg(!n, "%s: '%s' still there", c->name, c->path);
	} else if (c->op == SET) {
		ck_assert_msg(n && n->type == YAML_SCALAR_NODE, "%s: no scalar at path", c->name);
		ck_assert_str_eq((char *)n->data.scalar.value, c->value);
	} else {
		ck_assert_msg(n && n->type == YAML_SEQUENCE_NODE, "%s: no list at path", c->name);
		last = yaml_document_get_node(&doc, n->data.sequence.items.top[-1]);
		ck_assert(last->type == YAML_MAPPING_NODE);
		for (i = 0; i < n_fields(c); i++)
			ck_assert_str_eq(scalar_value(map_value(&doc, last, c->fields[i].key)),
					 c->fields[i].value);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

/* ---- tests ---- */

START_TEST(test_edit_cases)
{
	const struct edit_case *c = &cases[_i];
	size_t len = strlen(c->in), out_len = 0, start, end, lo, hi;
	struct occ_error err;
	char *out = NULL;
	int ret;

	ret = run(c, c->in, len, &out, &out_len, &err);
	ck_assert_msg(ret == 0, "%s: %d %s (%d:%d)", c->name, ret, err.msg, err.line, err.col);
	ck_assert_msg(out_len == strlen(out), "%s: out_len", c->name);
	ck_assert_msg(strcmp(out, c->want) == 0, "%s:\n--- got\n%s--- want\n%s---", c->name,
		      out, c->want);

	changed_window(c->in, len, out, out_len, &start, &end);
	lo = line_offset(c->in, len, c->from);
	hi = line_offset(c->in, len, c->to + 1);
	ck_assert_msg(start >= lo && end <= hi,
		      "%s: changed bytes [%zu, %zu) outside lines %d-%d [%zu, %zu)", c->name,
		      start, end, c->from, c->to, lo, hi);

	check_reparse(c, out, out_len);
	free(out);
}
END_TEST

START_TEST(test_edit_errors)
{
	const struct error_case *c = &errors[_i];
	struct edit_case ec = { .name = c->name, .in = c->in, .op = c->op, .path = c->path,
				.value = "1", .style = OCC_EDIT_PLAIN,
				.fields = { { "name", "x", OCC_EDIT_STRING } } };
	char sentinel = 0, *out = &sentinel;
	size_t out_len = 12345;
	struct occ_error err;
	int ret;

	ret = run(&ec, c->in, strlen(c->in), &out, &out_len, &err);
	ck_assert_msg(ret == c->code, "%s: got %d (%s), want %d", c->name, ret, err.msg, c->code);
	ck_assert_int_eq(err.code, c->code);
	ck_assert_msg(strstr(err.msg, c->msg), "%s: message '%s' lacks '%s'", c->name, err.msg,
		      c->msg);
	if (c->line)
		ck_assert_msg(err.line == c->line && err.col == c->col, "%s: at %d:%d, want %d:%d",
			      c->name, err.line, err.col, c->line, c->col);
	ck_assert(out == &sentinel && out_len == 12345);
}
END_TEST

/* Every case again with the edit applied twice where that must be stable:
 * setting the value a path already holds changes nothing. */
START_TEST(test_set_is_idempotent)
{
	const struct edit_case *c = &cases[_i];
	char *once = NULL, *twice = NULL;
	size_t n1 = 0, n2 = 0;
	struct occ_error err;

	if (c->op != SET)
		return;
	ck_assert_int_eq(run(c, c->in, strlen(c->in), &once, &n1, &err), 0);
	ck_assert_msg(run(c, once, n1, &twice, &n2, &err) == 0, "%s: %s", c->name, err.msg);
	ck_assert_msg(n1 == n2 && memcmp(once, twice, n1) == 0, "%s:\n%s---\n%s", c->name,
		      once, twice);
	free(once);
	free(twice);
}
END_TEST

START_TEST(test_too_large)
{
	size_t len = OCC_MAX_FILE_SIZE + 1;
	char *big = malloc(len), *out = NULL;
	size_t out_len;
	struct occ_error err;

	memset(big, '#', len);
	ck_assert_int_eq(occ_edit_set(&out, &out_len, big, len, "a", "1", OCC_EDIT_PLAIN, &err),
			 OCC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));
	ck_assert_ptr_null(out);
	free(big);
}
END_TEST

/* "a.a.a..." with n keys. */
static void keys_path(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		buf[2 * i] = 'a';
		buf[2 * i + 1] = '.';
	}
	buf[2 * n - 1] = '\0';
}

START_TEST(test_segment_limit)
{
	char path[2 * OCC_EDIT_MAX_SEGMENTS + 2];
	char *out = NULL;
	size_t out_len;
	struct occ_error err;

	keys_path(path, OCC_EDIT_MAX_SEGMENTS);
	ck_assert_int_eq(occ_edit_set(&out, &out_len, "", 0, path, "1", OCC_EDIT_PLAIN, &err), 0);
	free(out);
	out = NULL;
	keys_path(path, OCC_EDIT_MAX_SEGMENTS + 1);
	ck_assert_int_eq(occ_edit_set(&out, &out_len, "", 0, path, "1", OCC_EDIT_PLAIN, &err),
			 OCC_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than 64 keys"));
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_bad_values)
{
	struct occ_edit_kv kv = { "name", "\xc3", OCC_EDIT_STRING };
	char *out = NULL;
	size_t out_len;
	struct occ_error err;

	ck_assert_int_eq(occ_edit_set(&out, &out_len, BASE, strlen(BASE), "name", "\xff",
				      OCC_EDIT_STRING, &err), OCC_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "not valid UTF-8"));
	ck_assert_int_eq(occ_edit_append(&out, &out_len, BASE, strlen(BASE), "users", &kv, 1,
					 &err), OCC_EUSAGE);
	ck_assert_int_eq(occ_edit_append(&out, &out_len, BASE, strlen(BASE), "users", &kv, 0,
					 &err), OCC_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "at least one field"));
	ck_assert_ptr_null(out);
}
END_TEST

/* Values that need quoting or escapes read back exactly, whatever the style. */
START_TEST(test_round_trip_values)
{
	static const char *const values[] = {
		"", " lead", "trail ", "a: b", "#x", "x #y", "- x", "-", "true", "null", "~",
		"0x1F", "1e3", "12:30", "2024-01-01", "'q'", "\"dq\"", "back\\slash", "tab\there",
		"nl\nnl", "caf\xc3\xa9", "\xe2\x80\xa8", "{a}", "[a]", "a,b", "*ref", "&anc",
		"!tag", "%x", "@x", "`x", "---", "...", "? x", ": x", "|", ">",
	};
	static const char *const docs[] = {
		"k: v\n", "k: 'v'\n", "k: \"v\"\n", "m: {k: v}\n", "s: [{n: a, k: v}]\n",
	};
	static const char *const paths[] = { "k", "k", "k", "m.k", "s[n=a].k" };
	size_t i, j, s, out_len;
	struct occ_error err;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		for (j = 0; j < sizeof(docs) / sizeof(docs[0]); j++) {
			for (s = 0; s < 2; s++) {
				struct edit_case c = { .name = values[i], .op = SET,
						       .path = paths[j], .value = values[i] };
				char *out = NULL;
				int ret;

				ret = occ_edit_set(&out, &out_len, docs[j], strlen(docs[j]),
						   paths[j], values[i],
						   s ? OCC_EDIT_PLAIN : OCC_EDIT_STRING, &err);
				ck_assert_msg(ret == 0, "%s in %s: %s", values[i], docs[j],
					      err.msg);
				check_reparse(&c, out, out_len);
				free(out);
			}
		}
	}
}
END_TEST

static Suite *edit_suite(void)
{
	Suite *s = suite_create("edit");
	TCase *tc = tcase_create("cases");

	tcase_add_loop_test(tc, test_edit_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_set_is_idempotent, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_edit_errors, 0, (int)(sizeof(errors) / sizeof(errors[0])));
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_segment_limit);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_round_trip_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(edit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
