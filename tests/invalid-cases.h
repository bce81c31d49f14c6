/*
 * invalid-cases.h - the loader's table of invalid state files, shared by the
 * model's unit test (tests/test-model.c: error code, file:line:col, message
 * and hint) and the CLI's bad-input test (tests/test-bad-input.c: the same
 * files through `occ apply` and `occ diff`). The cases expect HOME=HOME_DIR,
 * OCC_TEST_DIR, OCC_TEST_NAME set and OCC_TEST_UNSET unset (see
 * invalid_cases_env()).
 */
#ifndef OCC_TESTS_INVALID_CASES_H
#define OCC_TESTS_INVALID_CASES_H

#include <stdlib.h>

#include "model/error.h"

#define V        "version: 1\n"
#define BASE_DIR "/srv/state"
#define HOME_DIR "/home/tester"

#define YESCRYPT "$y$j9T$bFPFBjnD1q3ATcEUjJN.X0$7GbOSQK3i.OYCHKo.ihuAmazW3oRzyNydOPsZwh/VU3"
#define GOSTY    "$gy$j9T$DKBxB4BlTkmCRUGX9siGw0$Pw2Sji6It/3qmfM0Q/NrDuujtyWN8JBtFciToCTTyF9"
#define SCRYPT   "$7$CU..../....agtEbklmhCfXeoM.9OKeG0$8pUFmFiPj/S69bDEbCogb1o4GpWCMUJmTPJMP0HP52/"
#define SHA512   "$6$WFFyuG9XhCJk6M5x$.suPnf3VRQ2hJemAORQugH3fBZZl0oOWgKYdqg4QZHljw.GfgtlKZmF3VE8vbCs6qKCVmOi1RBMWdYwJkdrbe."
#define SHA512R  "$6$rounds=5000$WFFyuG9XhCJk6M5x$.suPnf3VRQ2hJemAORQugH3fBZZl0oOWgKYdqg4QZHljw.GfgtlKZmF3VE8vbCs6qKCVmOi1RBMWdYwJkdrbe."
#define SHA256   "$5$.tzFGir1x/zDiboP$gPfA85CSoBhytWaQgezGUaUHTsYyVc5ZwRAiwlJtuwA"
#define BCRYPT   "$2b$05$S2kR6v3iEpABb8Cow.X9GOBqVrBXZBBFk.Uc.WZG20y.Qks7Dbteu"
#define BCRYPTY  "$2y$05$S2kR6v3iEpABb8Cow.X9GOBqVrBXZBBFk.Uc.WZG20y.Qks7Dbteu"

/* ---- invalid files ---- */

struct invalid_case {
	const char *yaml;
	int code;
	int line, col;
	const char *msg;       /* substring of err.msg */
	const char *hint;      /* substring of err.hint; NULL: not checked */
	const char *absent;    /* in neither msg nor hint; NULL: not checked */
};

#define INV OCC_EINVALID
#define SYN OCC_ESYNTAX
#define USER_OK "users: [{name: ok, password_env: OK_HASH}]\n"
#define HOST_LAB "hosts:\n  - name: lab\n    address: lab\n    overrides:\n"

static const struct invalid_case invalid_cases[] = {
	/* 0: shape of the file */
	{ "", INV, 1, 1, "the state file is empty", "version: 1", NULL },
	{ "# nothing here\n", INV, 1, 1, "the state file is empty", "version: 1", NULL },
	{ "---\n", INV, 1, 1, "the state file is empty", NULL, NULL },
	{ "- a\n- b\n", INV, 1, 1, "expected a mapping of keys such as 'version: 1', got a list", NULL, NULL },
	{ "just text\n", INV, 1, 1, "got 'just text'", NULL, NULL },
	/* 5: version */
	{ "name: x\n", INV, 1, 1, "missing required key 'version' at the top level", "version: 1", NULL },
	{ "version: 2\n", INV, 1, 10, "unsupported version 2: this occ understands version 1", "upgrade occ", NULL },
	{ "version: 0\n", INV, 1, 10, "unsupported version 0: this occ understands version 1", NULL, NULL },
	{ "version: \"1\"\n", INV, 1, 10, "version: expected an integer, got the string '1'", "remove the quotes", NULL },
	{ "version: 1.0\n", INV, 1, 10, "version: expected an integer, got '1.0'", NULL, NULL },
	/* 10 */
	{ "nmae: x\nversion: 3\n", INV, 2, 10, "unsupported version 3", NULL, NULL },
	{ "version: [1]\n", INV, 1, 10, "version: expected an integer, got a list", NULL, NULL },
	/* unknown keys */
	{ V "nmae: x\n", INV, 2, 1, "unknown key 'nmae' at the top level, did you mean 'name'?", NULL, NULL },
	{ V "container:\n  prot: 80\n", INV, 3, 3, "unknown key 'prot' in container, did you mean 'port'?", NULL, NULL },
	{ V "container:\n  xyzzy: 1\n", INV, 3, 3, "unknown key 'xyzzy' in container", NULL, "did you mean" },
	/* 15 */
	{ V "image:\n  reff: x\n", INV, 3, 3, "unknown key 'reff' in image, did you mean 'ref'?", NULL, NULL },
	{ V "users:\n  - name: alice\n    password: hunter2\n", INV, 4, 5,
	  "unknown key 'password' in users[0]", "plain-text passwords are not accepted", "hunter2" },
	{ V "container:\n  ports: [3000]\n", INV, 3, 3, "unknown key 'ports' in container",
	  "occ publishes one port", "did you mean" },
	{ V "container:\n  environment: {A: b}\n", INV, 3, 3, "unknown key 'environment' in container",
	  "the key is 'env'", NULL },
	{ V "container:\n  <<: {port: 1}\n", INV, 3, 3, "unknown key '<<' in container", "merge keys", NULL },
	/* 20: integers and ports */
	{ V "container:\n  port: abc\n", INV, 3, 9, "container.port: expected an integer, got 'abc'", NULL, NULL },
	{ V "container:\n  port: 0\n", INV, 3, 9, "container.port: 0 is out of range (1-65535)", NULL, NULL },
	{ V "container:\n  port: 65536\n", INV, 3, 9, "container.port: 65536 is out of range (1-65535)", NULL, NULL },
	{ V "container:\n  port: -1\n", INV, 3, 9, "container.port: -1 is out of range", NULL, NULL },
	{ V "container:\n  port: \"3000\"\n", INV, 3, 9, "container.port: expected an integer, got the string '3000'",
	  "remove the quotes", NULL },
	/* 25 */
	{ V "container:\n  port: 3000.5\n", INV, 3, 9, "container.port: expected an integer, got '3000.5'", NULL, NULL },
	{ V "container:\n  port: 03000\n", INV, 3, 9, "container.port: expected an integer, got '03000'", NULL, NULL },
	{ V "container:\n  port: [1]\n", INV, 3, 9, "container.port: expected an integer, got a list", NULL, NULL },
	{ V "container:\n  port:\n", INV, 3, 8, "container.port: expected an integer, got nothing (null)", NULL, NULL },
	{ V "container: 5\n", INV, 2, 12, "container: expected a mapping, got '5'", NULL, NULL },
	/* 30 */
	{ V "container:\n  container_port: 99999\n", INV, 3, 19,
	  "container.container_port: 99999 is out of range", NULL, NULL },
	/* bind */
	{ V "container:\n  bind: localhost\n", INV, 3, 9, "container.bind: 'localhost' is not an IP address",
	  "127.0.0.1", NULL },
	{ V "container:\n  bind: 300.1.1.1\n", INV, 3, 9, "container.bind: '300.1.1.1' is not an IP address", NULL, NULL },
	{ V "container:\n  bind: 0.0.0.0\n", INV, 3, 9,
	  "container.bind: 0.0.0.0 exposes the service beyond this machine but no users are defined to log in",
	  "occ user add", NULL },
	{ V "container:\n  bind: \"::\"\nusers:\n  - name: alice\n  - name: bob\n    password_env: B\n    enabled: false\n",
	  INV, 3, 9, "container.bind: :: exposes the service beyond this machine but no enabled user has a password",
	  "bind to 127.0.0.1", NULL },
	/* 35: enums and booleans */
	{ V "container:\n  restart: sometimes\n", INV, 3, 12,
	  "container.restart: invalid value 'sometimes' (expected one of: no, on-failure, always, unless-stopped)",
	  NULL, NULL },
	{ V "image:\n  pull: often\n", INV, 3, 9,
	  "image.pull: invalid value 'often' (expected one of: always, missing, never)", NULL, NULL },
	{ V "container:\n  running: yes\n", INV, 3, 12, "container.running: expected true or false, got 'yes'", NULL, NULL },
	{ V "container:\n  running: \"true\"\n", INV, 3, 12,
	  "container.running: expected true or false, got the string 'true'", "remove the quotes", NULL },
	/* health and durations */
	{ V "container:\n  health:\n    path: healthz\n", INV, 4, 11,
	  "container.health.path: 'healthz' is not valid: HTTP paths start with '/'", "/global/health", NULL },
	/* 40 */
	{ V "container:\n  health:\n    path: \"/a b\"\n", INV, 4, 11, "HTTP paths contain no spaces", NULL, NULL },
	{ V "container:\n  health:\n    timeout: 5x\n", INV, 4, 14,
	  "container.health.timeout: '5x' is not a valid duration", "500ms, 30s, 5m, 1h", NULL },
	{ V "container:\n  health:\n    timeout: 0s\n", INV, 4, 14, "'0s' is not a valid duration", NULL, NULL },
	{ V "container:\n  health: none\n", INV, 3, 11, "container.health: expected a mapping, got 'none'", NULL, NULL },
	{ V "watch:\n  resync: soon\n", INV, 3, 11, "watch.resync: 'soon' is not a valid duration", NULL, NULL },
	/* 45 */
	{ V "watch:\n  self_heal: 1\n", INV, 3, 14, "watch.self_heal: expected true or false, got '1'", NULL, NULL },
	/* env */
	{ V "container:\n  env:\n    FOO:\n", INV, 4, 9, "container.env.FOO: expected a string, got nothing (null)",
	  "write \"\" for an empty value", NULL },
	{ V "container:\n  env:\n    FOO: [a]\n", INV, 4, 10, "container.env.FOO: expected a string, got a list", NULL, NULL },
	{ V "container:\n  env:\n    \"A=B\": x\n", INV, 4, 5, "container.env: invalid name 'A=B': names cannot contain '='",
	  NULL, NULL },
	{ V "container:\n  env: [A=B]\n", INV, 3, 8, "container.env: expected a mapping, got a list", NULL, NULL },
	/* 50: project name */
	{ V "name: \"-bad\"\n", INV, 2, 7, "name: '-bad' is not valid: names start with a letter or digit", NULL, NULL },
	{ V "name: my project\n", INV, 2, 7, "name: 'my project' is not valid: names contain only letters", NULL, NULL },
	{ V "name: caf\xc3\xa9\n", INV, 2, 7, "names contain only letters, digits", NULL, NULL },
	{ V "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", INV, 2, 7,
	  "names are at most 63 characters", NULL, NULL },
	{ V "name: \"\"\n", INV, 2, 7, "name: must not be empty", NULL, NULL },
	/* 55 */
	{ V "name: [a]\n", INV, 2, 7, "name: expected a string, got a list", NULL, NULL },
	{ V "name: ~\n", INV, 2, 7, "name: expected a string, got nothing (null)", NULL, NULL },
	/* image */
	{ V "image:\n  ref: Opencode:Local\n", INV, 3, 8,
	  "image.ref: 'Opencode:Local' is not valid: repository names use lowercase", "opencode-cloud:local", NULL },
	{ V "image:\n  ref: \"foo:bad tag\"\n", INV, 3, 8, "a tag contains only letters", NULL, NULL },
	{ V "image:\n  ref: foo@sha256:xyz\n", INV, 3, 8, "a digest looks like sha256:", NULL, NULL },
	/* 60 */
	{ V "image:\n  build:\n    context: embedded\n    dockerfile: Dockerfile.dev\n", INV, 5, 17,
	  "image.build.dockerfile: has no effect with context: embedded", "directory holding your Dockerfile", NULL },
	{ V "image:\n  build:\n    ca_certs: ca.pem\n", INV, 4, 15, "image.build.ca_certs: expected a list, got 'ca.pem'",
	  NULL, NULL },
	{ V "image:\n  build:\n    args:\n      V: [1]\n", INV, 5, 10, "image.build.args.V: expected a string, got a list",
	  NULL, NULL },
	{ V "image:\n  build:\n    context: ${OCC_TEST_UNSET}/x\n", INV, 4, 14,
	  "image.build.context: environment variable 'OCC_TEST_UNSET' is not set", "${VAR}", NULL },
	{ V "image:\n  build: yes\n", INV, 3, 10, "image.build: expected a mapping, got 'yes'", NULL, NULL },
	/* 65: users */
	{ V "users:\n  name: alice\n", INV, 3, 3, "users: expected a list, got a mapping", NULL, NULL },
	{ V "users:\n  - password_env: X\n", INV, 3, 5, "missing required key 'name' in users[0]", NULL, NULL },
	{ V "users:\n  - name: Alice\n", INV, 3, 11,
	  "users[0].name: 'Alice' is not valid: user names start with a lowercase letter or '_'", NULL, NULL },
	{ V "users:\n  - name: root\n", INV, 3, 11, "users[0].name: 'root' is not valid: the name is reserved for a system account",
	  NULL, NULL },
	{ V "users:\n  - name: opencode\n", INV, 3, 11, "the name is reserved for a system account", NULL, NULL },
	/* 70 */
	{ V "users:\n  - name: nobody\n", INV, 3, 11, "the name is reserved for a system account", NULL, NULL },
	{ V "users:\n  - name: abcdefghijklmnopqrstuvwxyz0123456\n", INV, 3, 11, "user names are at most 32 characters",
	  NULL, NULL },
	{ V "users:\n  - name: bad.name\n", INV, 3, 11, "user names contain only lowercase letters, digits", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_hash: hunter2\n", INV, 4, 20,
	  "users[0].password_hash: not a crypt(3) password hash: it does not start with a supported scheme",
	  "occ user passwd", "hunter2" },
	{ V "users:\n  - name: alice\n    password_hash: \"$y$j9T$bFPFBjnD1q3ATcEUjJN.X0$7GbOSQK3i.OYCHKo.ihuAmazW3oRzyNydOPsZwh/\"\n",
	  INV, 4, 20, "its hash part is truncated or damaged", "mkpasswd", "bFPFB" },
	/* 75 */
	{ V "users:\n  - name: alice\n    password_hash: \"$1$abcdefgh$0123456789abcdefghijkl\"\n", INV, 4, 20,
	  "does not start with a supported scheme", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_hash: \"$2a$05$S2kR6v3iEpABb8Cow.X9GOBqVrBXZBBFk.Uc.WZG20y.Qks7Dbteu\"\n",
	  INV, 4, 20, "does not start with a supported scheme", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_hash: \"$y$abc\"\n", INV, 4, 20, "it has no salt", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_hash: \"$2b$05$tooshort\"\n", INV, 4, 20,
	  "a bcrypt hash has 53 characters after its cost", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_hash: \"" YESCRYPT "\"\n    password_env: ALICE_PW\n", INV, 5, 19,
	  "users[0]: both password_hash and password_env are set", "one password source", NULL },
	/* 80 */
	{ V "users:\n  - name: alice\n    password_file: a.hash\n    password_hash: \"" YESCRYPT "\"\n", INV, 5, 20,
	  "users[0]: both password_file and password_hash are set", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_env: 1BAD\n", INV, 4, 19,
	  "users[0].password_env: '1BAD' is not valid: variable names start with a letter or '_'", NULL, NULL },
	{ V "users:\n  - name: alice\n  - name: alice\n", INV, 4, 11, "users[1].name: duplicate user 'alice' (first at 3:11)",
	  NULL, NULL },
	{ V "users:\n  - name: alice\n    shell: bash\n", INV, 4, 12, "users[0].shell: 'bash' is not valid: the path must be absolute",
	  NULL, NULL },
	{ V "users:\n  - name: alice\n    enabled: no\n", INV, 4, 14, "users[0].enabled: expected true or false, got 'no'",
	  NULL, NULL },
	/* 85 */
	{ V "users:\n  - alice\n", INV, 3, 5, "users[0]: expected a mapping, got 'alice'", NULL, NULL },
	{ V "users:\n  - name: a\n    password_file: ${OCC_TEST_UNSET}\n", INV, 4, 20,
	  "users[0].password_file: environment variable 'OCC_TEST_UNSET' is not set", NULL, NULL },
	/* mounts */
	{ V "mounts:\n  - source: ./src\n", INV, 3, 5, "missing required key 'target' in mounts[0]", NULL, NULL },
	{ V "mounts:\n  - source: ./src\n    target: src\n", INV, 4, 13,
	  "mounts[0].target: 'src' is not valid: container paths must be absolute", NULL, NULL },
	{ V "mounts:\n  - source: ./src\n    target: /a/../etc\n", INV, 4, 13, "container paths must not contain '..'", NULL, NULL },
	/* 90 */
	{ V "mounts:\n  - source: ./src\n    target: //\n", INV, 4, 13, "the container's root '/' cannot be a mount target",
	  NULL, NULL },
	{ V "mounts:\n  - source: ./src\n    target: /a:b\n", INV, 4, 13, "container paths contain no ':'", NULL, NULL },
	{ V "mounts:\n  - {source: a, target: /w}\n  - {source: b, target: /w/}\n", INV, 4, 25,
	  "mounts[1].target: '/w' is already the target of mounts[0].target (at 3:25)", NULL, NULL },
	{ V "mounts:\n  - {source: a, target: /home/opencode/.config/opencode}\n", INV, 3, 25,
	  "mounts[0].target: '/home/opencode/.config/opencode' is already the target of the default volume 'config'",
	  "volumes: []", NULL },
	{ V "mounts:\n  - source: ${OCC_TEST_UNSET}/src\n    target: /s\n", INV, 3, 13,
	  "mounts[0].source: environment variable 'OCC_TEST_UNSET' is not set", "$$ for a literal '$'", NULL },
	/* 95 */
	{ V "mounts:\n  - source: $HOME/x\n    target: /s\n", INV, 3, 13,
	  "mounts[0].source: a '$' must start ${VAR} or be doubled as $$", NULL, NULL },
	{ V "mounts:\n  - source: ${1X}\n    target: /s\n", INV, 3, 13, "'${1X}' is not a valid variable reference", NULL, NULL },
	{ V "mounts:\n  - source: \"${OCC_TEST_DIR\"\n    target: /s\n", INV, 3, 13, "'${' has no closing '}'", NULL, NULL },
	{ V "mounts:\n  - source: \"\"\n    target: /s\n", INV, 3, 13, "mounts[0].source: the path is empty", NULL, NULL },
	{ V "mounts:\n  - {source: a, target: /a, readonly: maybe}\n", INV, 3, 39,
	  "mounts[0].readonly: expected true or false, got 'maybe'", NULL, NULL },
	/* 100: volumes */
	{ V "volumes:\n  - {name: data, target: /a}\n  - {name: data, target: /b}\n", INV, 4, 12,
	  "volumes[1].name: duplicate volume 'data' (first at 3:12)", NULL, NULL },
	{ V "volumes:\n  - {name: a, target: /x}\n  - {name: b, target: /x}\n", INV, 4, 23,
	  "volumes[1].target: '/x' is already the target of volumes[0].target (at 3:23)", NULL, NULL },
	{ V "volumes: [{name: d, target: /data}]\nmounts: [{source: ., target: /data}]\n", INV, 3, 30,
	  "mounts[0].target: '/data' is already the target of volumes[0].target (at 2:29)", NULL, NULL },
	{ V "volumes:\n  - {name: my vol, target: /v}\n", INV, 3, 12, "volumes[0].name: 'my vol' is not valid", NULL, NULL },
	{ V "volumes:\n  - name: data\n", INV, 3, 5, "missing required key 'target' in volumes[0]", NULL, NULL },
	/* 105 */
	{ V "volumes: {}\n", INV, 2, 10, "volumes: expected a list, got a mapping", NULL, NULL },
	/* hosts */
	{ V "hosts:\n  - name: lab\n", INV, 3, 5, "hosts[0]: host 'lab' has no address", "only the host named 'local'", NULL },
	{ V "hosts:\n  - name: local\n    identity: ~/.ssh/id\n", INV, 4, 15,
	  "hosts[0].identity: has no effect on the local machine", NULL, NULL },
	{ V "hosts:\n  - name: local\n    user: me\n", INV, 4, 11, "hosts[0].user: has no effect on the local machine", NULL, NULL },
	{ V "hosts:\n  - {name: lab, address: a}\n  - {name: lab, address: b}\n", INV, 4, 12,
	  "hosts[1].name: duplicate host 'lab' (first at 3:12)", NULL, NULL },
	/* 110 */
	{ V "hosts:\n  - name: lab\n    address: root@lab.example.com\n", INV, 4, 14,
	  "hosts[0].address: 'root@lab.example.com' is not valid: it contains '@'", "the login name goes in 'user'", NULL },
	{ V "hosts:\n  - name: lab\n    address: lab:2222\n", INV, 4, 14, "it contains ':' but is not an IPv6 address",
	  "the SSH port in 'port'", NULL },
	{ V "hosts:\n  - {name: lab, address: lab, port: 0}\n", INV, 3, 37, "hosts[0].port: 0 is out of range", NULL, NULL },
	{ V HOST_LAB "      container:\n        prot: 1\n", INV, 7, 9,
	  "unknown key 'prot' in hosts[0].overrides.container, did you mean 'port'?", NULL, NULL },
	{ V HOST_LAB "      container:\n        restart: always\n", INV, 7, 9,
	  "unknown key 'restart' in hosts[0].overrides.container", NULL, NULL },
	/* 115 */
	{ V HOST_LAB "      container: {bind: 0.0.0.0}\n", INV, 6, 25,
	  "hosts[0].overrides.container.bind: 0.0.0.0 exposes the service beyond this machine but no users are defined",
	  NULL, NULL },
	{ V HOST_LAB "      mounts: [{source: /x, target: /home/opencode/.cache/opencode}]\n", INV, 6, 37,
	  "hosts[0].overrides.mounts[0].target: '/home/opencode/.cache/opencode' is already the target of the default volume 'cache'",
	  NULL, NULL },
	{ V HOST_LAB "      mounts:\n        - {source: /x, target: /t}\n        - {source: /y, target: /t}\n", INV, 8, 32,
	  "hosts[0].overrides.mounts[1].target: '/t' is already the target of hosts[0].overrides.mounts[0].target (at 7:32)",
	  NULL, NULL },
	{ V HOST_LAB "      - {source: /x, target: /t}\n", INV, 6, 7, "hosts[0].overrides: expected a mapping, got a list", NULL, NULL },
	{ V "hosts:\n  - {name: lab, address: lab}\ndefault_host: lba\n", INV, 4, 15,
	  "default_host: no host is named 'lba', did you mean 'lab'?", NULL, NULL },
	/* 120 */
	{ V "default_host: lab\n", INV, 2, 15, "default_host: no host is named 'lab'", "without 'hosts:'", "did you mean" },
	{ V "default_host: my host\n", INV, 2, 15, "default_host: 'my host' is not valid", NULL, NULL },
	{ V "hosts:\n  - {name: lab, address: lab, user: bad user}\n", INV, 3, 37, "hosts[0].user: 'bad user' is not valid",
	  NULL, NULL },
	{ V "hosts:\n  - {name: lab, address: lab, socket: docker.sock}\n", INV, 3, 39,
	  "hosts[0].socket: 'docker.sock' is not valid: the path must be absolute", NULL, NULL },
	{ V "hosts: lab\n", INV, 2, 8, "hosts: expected a list, got 'lab'", NULL, NULL },
	/* 125: service */
	{ V "service:\n  install: maybe\n", INV, 3, 12, "service.install: expected true or false, got 'maybe'", NULL, NULL },
	{ V "service:\n  enabled: true\n", INV, 3, 3, "unknown key 'enabled' in service", NULL, "did you mean" },
	/* duplicate keys */
	{ V "name: a\nname: b\n", INV, 3, 1, "duplicate key 'name' at the top level (first at 2:1)", NULL, NULL },
	{ V "container:\n  port: 1\n  port: 2\n", INV, 4, 3, "duplicate key 'port' in container (first at 3:3)", NULL, NULL },
	{ V HOST_LAB "      container:\n        env:\n          A: 1\n          A: 2\n", INV, 9, 11,
	  "duplicate key 'A' in hosts[0].overrides.container.env (first at 8:11)", NULL, NULL },
	/* 130 */
	{ V "users:\n  - name: a\n    name: b\n", INV, 4, 5, "duplicate key 'name' in users[0] (first at 3:5)", NULL, NULL },
	/* YAML syntax */
	{ V "container:\n  port: 1\n bind: x\n", SYN, 4, 2, "invalid YAML: did not find expected key", NULL, NULL },
	{ V "name: \"abc\n", SYN, 3, 1, "invalid YAML: found unexpected end of stream", NULL, NULL },
	{ V "container:\n\tport: 1\n", SYN, 3, 1, "invalid YAML", "tab", NULL },
	/* libyaml places the end of the stream at the start of a line past the end */
	{ "{version: 1, name: [a,", SYN, 2, 1, "invalid YAML: did not find expected node content", NULL, NULL },
	/* 135 */
	{ V "---\nname: x\n", INV, 2, 1, "a state file holds one YAML document, this is the second", "---", NULL },
	{ V "name: caf\xe9\n", SYN, 2, 10, "the state file is not valid UTF-8 (byte 0xe9 at offset 20)", "UTF-8", NULL },
	{ V "name: \xc0\xaf\n", SYN, 2, 7, "not valid UTF-8 (byte 0xc0", NULL, NULL },
	{ V "name: \xed\xa0\x80\n", SYN, 2, 7, "not valid UTF-8 (byte 0xed", NULL, NULL },
	{ V "name: x\x01y\n", SYN, 2, 8, "invalid YAML: control characters are not allowed", NULL, NULL },
	/* 140: YAML features occ refuses */
	{ V "name: \"a\\0b\"\n", INV, 2, 7, "a value contains a NUL character", NULL, NULL },
	{ V "name: !!str foo\n", INV, 2, 7, "YAML tags such as 'tag:yaml.org,2002:str' are not supported", "quote it", NULL },
	{ V "container: !Ref x\n", INV, 2, 12, "YAML tags such as '!Ref' are not supported", NULL, NULL },
	{ V "name: *nope\n", INV, 2, 7, "alias '*nope' names no anchor defined before it", NULL, NULL },
	{ V "container: &c\n  env: *c\n", INV, 3, 8, "alias '*c' is inside the node it refers to", NULL, NULL },
	/* 145 */
	{ V "? [a, b]\n: c\n", INV, 2, 3, "keys must be plain strings, not lists", NULL, NULL },
	{ V "container:\n  health:\n    path: \"/x#frag\"\n", INV, 4, 11, "HTTP paths contain no spaces, control characters or '#'",
	  NULL, NULL },
	{ V "mounts:\n  - source: ~\n    target: /h\n", INV, 3, 13, "mounts[0].source: expected a string, got nothing (null)",
	  "write \"~\" for the home directory", NULL },
	{ "\xef\xbb\xbfversion: 1\nname: -x\n", INV, 2, 7, "name: '-x' is not valid", NULL, NULL },
	{ V "mounts:\n  - ./src:/src\n", INV, 3, 5, "mounts[0]: expected a mapping, got './src:/src'",
	  "- {source: ./src, target:", NULL },
	/* the login mode is occ's to set */
	{ V "container:\n  env: {OCC_LOGIN: open}\n", INV, 3, 9,
	  "container.env.OCC_LOGIN: is reserved: occ sets it itself", "occ user add", NULL },
	/* users: shells, names the image has, password files */
	{ V "users:\n  - name: alice\n    shell: \"/bin/bash:x\"\n", INV, 4, 12,
	  "users[0].shell: '/bin/bash:x' is not valid: a shell path cannot contain ':'", "/bin/bash", NULL },
	{ V "users:\n  - name: alice\n    shell: \"/bin/sh\\nx\"\n", INV, 4, 12,
	  "users[0].shell: '/bin/sh\\x0ax' is not valid: the path contains control characters", NULL, NULL },
	{ V "users:\n  - name: shadow\n", INV, 3, 11,
	  "users[0].name: 'shadow' is not valid: it is a system group in the container: choose another name", NULL, NULL },
	{ V "users:\n  - name: sudo\n", INV, 3, 11,
	  "users[0].name: 'sudo' is not valid: it is a system group in the container: choose another name", NULL, NULL },
	{ V "users:\n  - name: nogroup\n", INV, 3, 11,
	  "users[0].name: 'nogroup' is not valid: it is a system group in the container: choose another name", NULL, NULL },
	{ V "users:\n  - name: occ-auth\n", INV, 3, 11,
	  "users[0].name: 'occ-auth' is not valid: it is a system group in the container: choose another name", NULL, NULL },
	{ V "users:\n  - name: systemd-journal\n", INV, 3, 11,
	  "users[0].name: 'systemd-journal' is not valid: it is a system group in the container: choose another name", NULL, NULL },
	{ V "users:\n  - name: alice\n    password_file: /etc/passwd\n", INV, 4, 20,
	  "users[0].password_file: '/etc/passwd' holds no crypt hash (expected one line like $y$...)", "mkpasswd", "root:" },
	{ V "users:\n  - name: alice\n    password_file: /etc\n", INV, 4, 20,
	  "users[0].password_file: '/etc' is not a regular file", NULL, NULL },
	/* mount targets over the container's accounts (bind mounts, volumes, overrides) */
	{ V "mounts:\n  - {source: /srv/a, target: /etc/shadow}\n", INV, 3, 30,
	  "mounts[0].target: '/etc/shadow' is not valid: occ writes the container's accounts", "/home/opencode", NULL },
	{ V "mounts:\n  - {source: /srv/a, target: //etc/}\n", INV, 3, 30,
	  "mounts[0].target: '//etc/' is not valid: occ writes the container's accounts", NULL, NULL },
	{ V "mounts:\n  - {source: /srv/a, target: /etc/passwd, readonly: true}\n", INV, 3, 30,
	  "occ writes the container's accounts", NULL, NULL },
	{ V "volumes:\n  - {name: accounts, target: /etc}\n", INV, 3, 30,
	  "volumes[0].target: '/etc' is not valid: occ writes the container's accounts", NULL, NULL },
	{ V "volumes:\n  - {name: groups, target: /etc/group}\n", INV, 3, 28,
	  "volumes[0].target: '/etc/group' is not valid", NULL, NULL },
	{ V HOST_LAB "      mounts:\n        - {source: /srv/a, target: /etc/gshadow}\n", INV, 7, 36,
	  "hosts[0].overrides.mounts[0].target: '/etc/gshadow' is not valid: occ writes", NULL, NULL },
	/* dangerous mount sources: refused unless allow_dangerous: true */
	{ V "mounts:\n  - {source: /, target: /host}\n", INV, 3, 14,
	  "mounts[0].source: refusing to mount '/' into the container: it is the host's root directory", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /etc, target: /hostetc, readonly: true}\n", INV, 3, 14,
	  "mounts[0].source: refusing to mount '/etc' into the container: it is the host's /etc", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /var/../etc/, target: /hostetc}\n", INV, 3, 14,
	  "refusing to mount '/etc' into the container: it is the host's /etc", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: //etc//shadow, target: /s, readonly: true}\n", INV, 3, 14,
	  "refusing to mount '/etc/shadow' into the container: it holds the host's password hashes", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /etc/gshadow, target: /s, readonly: true}\n", INV, 3, 14,
	  "it holds the host's group password hashes", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /etc/sudoers.d, target: /s, readonly: true}\n", INV, 3, 14,
	  "refusing to mount '/etc/sudoers.d' into the container: it holds the host's sudo rules", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /etc/ssl, target: /ssl}\n", INV, 3, 14,
	  "refusing to mount '/etc/ssl' into the container: a read-write mount below /etc", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /var/run/docker.sock, target: /var/run/docker.sock}\n", INV, 3, 14,
	  "refusing to mount '/var/run/docker.sock' into the container: it is the Docker socket", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /run/docker.sock, target: /d.sock, readonly: true}\n", INV, 3, 14,
	  "it is the Docker socket", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /run, target: /hostrun, readonly: true}\n", INV, 3, 14,
	  "refusing to mount '/run' into the container: it holds the Docker socket", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /proc/1, target: /p, readonly: true}\n", INV, 3, 14,
	  "refusing to mount '/proc/1' into the container: it is the host's process and kernel interface", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /sys/, target: /s, readonly: true}\n", INV, 3, 14,
	  "refusing to mount '/sys' into the container: it is the host's kernel", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /dev/sda, target: /disk}\n", INV, 3, 14,
	  "refusing to mount '/dev/sda' into the container: it gives access to the host's devices", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /boot, target: /b, readonly: true}\n", INV, 3, 14,
	  "it holds the host's kernel and boot loader", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: \"~\", target: /h}\n", INV, 3, 14,
	  "mounts[0].source: refusing to mount '/home/tester' into the container: it is your whole home directory", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: \"${HOME}/\", target: /h, readonly: true}\n", INV, 3, 14,
	  "refusing to mount '/home/tester' into the container: it is your whole home directory", "allow_dangerous: true", NULL },
	{ V "mounts:\n  - {source: /etc, target: /e, allow_dangerous: false}\n", INV, 3, 14,
	  "refusing to mount '/etc'", "allow_dangerous: true", NULL },
	{ V HOST_LAB "      mounts:\n        - {source: /etc, target: /hostetc}\n", INV, 7, 20,
	  "hosts[0].overrides.mounts[0].source: refusing to mount '/etc' into the container", "allow_dangerous: true", NULL },
	/* OCC_* variables are occ's */
	{ V "container:\n  env: {OCC_LISTEN_PORT: \"3001\"}\n", INV, 3, 9,
	  "container.env.OCC_LISTEN_PORT: is set by occ (from container.container_port); OCC_* variables are reserved", "container.container_port", NULL },
	{ V "container:\n  env:\n    TZ: UTC\n    OCC_ANYTHING: x\n", INV, 5, 5,
	  "container.env.OCC_ANYTHING: OCC_* variables are reserved for occ", NULL, NULL },
	{ V HOST_LAB "      container:\n        env: {OCC_LOGIN: open}\n", INV, 7, 15,
	  "hosts[0].overrides.container.env.OCC_LOGIN: is reserved: occ sets it itself", NULL, NULL },
	{ V HOST_LAB "      container:\n        env: {OCC_LISTEN_PORT: \"8080\"}\n", INV, 7, 15,
	  "hosts[0].overrides.container.env.OCC_LISTEN_PORT: is set by occ", NULL, NULL },
	/* 4096 is opencode's own port in occ's image */
	{ V "container:\n  container_port: 4096\n", INV, 3, 19,
	  "container.container_port: 4096 is opencode's own port inside occ's image", "3000", NULL },
	{ V "image:\n  build: {context: embedded}\ncontainer: {port: 80, container_port: 4096}\n", INV, 4, 39,
	  "container.container_port: 4096 is opencode's own port", NULL, NULL },
	{ V HOST_LAB "      container:\n        container_port: 4096\n", INV, 7, 25,
	  "hosts[0].overrides.container.container_port: 4096 is opencode's own port", NULL, NULL },
	/* resources and server_names */
	{ V "resources: {memory: 5m}\n", INV, 2, 21,
	  "resources.memory: 5m is below Docker's minimum of 6m", NULL, NULL },
	{ V "resources: {memory: lots}\n", INV, 2, 21,
	  "resources.memory: 'lots' is not a valid size", "512m, 2g", NULL },
	{ V "resources: {memory: 2t}\n", INV, 2, 21,
	  "resources.memory: '2t' is not a valid size", NULL, NULL },
	{ V "resources: {cpus: 0.001}\n", INV, 2, 19,
	  "resources.cpus: '0.001' is not a valid number of CPUs", "0.01 to 1024", NULL },
	{ V "resources: {cpus: -1}\n", INV, 2, 19,
	  "resources.cpus: '-1' is not a valid number of CPUs", NULL, NULL },
	{ V "resources: {cpus: 1.2345}\n", INV, 2, 19,
	  "resources.cpus: '1.2345' is not a valid number of CPUs", NULL, NULL },
	{ V "resources: {pids: 10}\n", INV, 2, 19,
	  "resources.pids: 10 processes cannot run opencode and its tools", "at least 32", NULL },
	{ V "resources: {pids: \"100\"}\n", INV, 2, 19, "resources.pids: expected an integer",
	  "remove the quotes", NULL },
	{ V "resources: {swap: 1g}\n", INV, 2, 13, "swap", NULL, NULL },
	{ V "container: {server_names: [\"evil host\"]}\n", INV, 2, 28,
	  "container.server_names[0]: 'evil host' is not valid", "code.example.com", NULL },
	{ V "container: {server_names: [\"a.example:80\"]}\n", INV, 2, 28,
	  "container.server_names[0]: 'a.example:80' is not valid", NULL, NULL },
};

static inline void invalid_cases_env(void)
{
	setenv("HOME", HOME_DIR, 1);
	setenv("OCC_TEST_DIR", "/data/x", 1);
	setenv("OCC_TEST_NAME", "proj", 1);
	unsetenv("OCC_TEST_UNSET");
}

#endif
