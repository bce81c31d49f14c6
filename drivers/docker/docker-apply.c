/*
 * docker-apply.c - carrying out plan actions, one function per kind.
 *
 * Safety rules: a container occ does not own is never created over, stopped
 * or removed; removing never removes volumes (v=0); a recreate builds the new
 * container under "<name>-occ-next" before touching the old one, so a failed
 * create leaves the service running, and a failed start puts the old one back
 * (see swap_in for the order of renames). A new container gets its accounts
 * (docker-users.c) before it starts, so a recreate never runs without them,
 * and with the uids they had.
 */
#include "drivers/docker/docker-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"
#include "model/state.h"

#define STOP_TIMEOUT_S 10

typedef int (*action_fn)(struct occ_docker *dk, const struct occ_state *desired,
			 const struct occ_observed *obs, const struct occ_action *act,
			 struct occ_error *err);

static char *container_path(const char *container, const char *suffix)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_adds(&sb, "/containers/");
	occ_docker__url_escape(&sb, container);
	occ_strbuf_adds(&sb, suffix);
	return occ_strbuf_detach(&sb);
}

/* Append to err's message: "...; <more>". */
static void append_msg(struct occ_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void append_msg(struct occ_error *err, const char *fmt, ...)
{
	size_t len = strlen(err->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
	va_end(ap);
}

static int foreign_conflict(struct occ_error *err, const char *name, const char *holder_id)
{
	occ_error_set(err, OCC_ECONFLICT,
		      "cannot create container '%s': the name is taken by container %.12s, "
		      "which occ does not manage", name, holder_id);
	occ_error_hint(err, "remove or rename that container ('docker rm %s' or "
		       "'docker rename %s NEW'), or choose another project name with name: "
		       "in the state file", name, name);
	return err->code;
}

static bool owns(const struct occ_docker_brief *b, const char *project)
{
	return b->managed && strcmp(b->project, project) == 0;
}

/* After a 409 on create: say who holds the name. */
static int name_conflict(struct occ_docker *dk, const char *project, const char *name,
			 struct occ_error *err)
{
	struct occ_docker_brief b;
	int ret = occ_docker__inspect_brief(dk, &b, name, err);

	if (ret)
		return ret == OCC_ENOTFOUND ?
		       occ_error_set(err, OCC_ECONFLICT, "cannot create container '%s': "
				     "the name was in use; try again", name) : ret;
	if (!owns(&b, project))
		return foreign_conflict(err, name, b.id);
	return occ_error_set(err, OCC_ECONFLICT,
			     "cannot create container '%s': occ's container %.12s already has "
			     "that name", name, b.id);
}

static int post_create(struct occ_docker *dk, const struct occ_state *desired,
		       const char *name, const char *body, char **out, struct occ_error *err)
{
	struct occ_strbuf path = OCC_STRBUF_INIT;
	struct occ_docker_resp resp;
	int ret;

	occ_strbuf_adds(&path, "/containers/create?name=");
	occ_docker__url_escape(&path, name);
	ret = occ_docker__call(dk, "POST", path.buf, body, &resp, err);
	if (ret)
		goto out;
	if (resp.status == 201 || resp.status == 200)
		ret = occ_docker__parse_id(out, resp.body.buf, resp.body.len, err);
	else if (resp.status == 409)
		ret = name_conflict(dk, desired->name, name, err);
	else
		ret = occ_docker__api_error(err, &resp, "cannot create container '%s'", name);
out:
	occ_docker__resp_release(&resp);
	occ_strbuf_release(&path);
	return ret;
}

/* Create (not start) the project's container under name; *out = its id. */
static int create_container(struct occ_docker *dk, const struct occ_state *desired,
			    const char *name, char **out, struct occ_error *err)
{
	char hash[OCC_HASH_HEX_LEN + 1];
	char *image_id = NULL, *body = NULL;
	int ret = occ_docker__image_id(dk, &image_id, desired->image.ref, err);

	if (ret) {
		occ_error_prefix(err, "cannot create container '%s'", name);
		goto out;
	}
	if (occ_spec_hash(desired, OCC_HASH_VERSION, hash) != 0) {
		ret = occ_error_set(err, OCC_EGENERIC, "cannot compute the spec hash of '%s'",
				    desired->name);
		goto out;
	}
	body = occ_docker__create_body(desired, hash, OCC_HASH_VERSION, image_id);
	ret = post_create(dk, desired, name, body, out, err);
out:
	free(body);
	free(image_id);
	return ret;
}

int occ_docker__stop(struct occ_docker *dk, const char *container, int timeout_s,
		     struct occ_error *err)
{
	char suffix[32];
	char *path;
	struct occ_docker_req req = { .method = "POST" };
	struct occ_docker_resp resp;
	int ret;

	snprintf(suffix, sizeof(suffix), "/stop?t=%d", timeout_s);
	path = container_path(container, suffix);
	req.path = path;
	/* Docker waits t seconds, then kills; give it time to answer after. */
	req.timeout_ms = (timeout_s + 60) * 1000L;
	occ_docker__resp_init(&resp);
	ret = occ_docker__http_do(dk->http, &req, &resp, err);
	if (!ret && resp.status != 204 && resp.status != 304 && resp.status != 404)
		ret = occ_docker__api_error(err, &resp, "cannot stop container '%s'", container);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

static int port_error(struct occ_error *err, const struct occ_state *desired,
		      const char *display, const char *addr)
{
	char fallback[300];

	if (!*addr) {
		snprintf(fallback, sizeof(fallback), "%s:%u",
			 desired->container.bind ? desired->container.bind : "127.0.0.1",
			 (unsigned)desired->container.port);
		addr = fallback;
	}
	occ_error_set(err, OCC_EPORT, "cannot start container '%s': port %s is already in use",
		      display, addr);
	occ_error_hint(err, "stop what listens there (see 'ss -ltnp'), or publish another "
		       "port with container.port in the state file");
	return err->code;
}

int occ_docker__start(struct occ_docker *dk, const struct occ_state *desired,
		      const char *container, const char *display, struct occ_error *err)
{
	char *path = container_path(container, "/start");
	struct occ_docker_resp resp;
	char addr[256];
	char *msg = NULL;
	int ret = occ_docker__call(dk, "POST", path, NULL, &resp, err);

	if (ret || resp.status == 204 || resp.status == 304)
		goto out;
	if (resp.status == 404) {
		ret = occ_error_set(err, OCC_ENOTFOUND,
				    "cannot start container '%s': it does not exist", display);
		goto out;
	}
	msg = occ_docker__error_message(resp.body.buf, resp.body.len);
	if (occ_docker__port_in_use(msg, addr, sizeof(addr)))
		ret = port_error(err, desired, display, addr);
	else
		ret = occ_docker__api_error(err, &resp, "cannot start container '%s'", display);
out:
	free(msg);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

int occ_docker__remove(struct occ_docker *dk, const char *container, struct occ_error *err)
{
	char *path = container_path(container, "?force=1&v=0");
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "DELETE", path, NULL, &resp, err);

	if (!ret && resp.status != 204 && resp.status != 404)
		ret = occ_docker__api_error(err, &resp, "cannot remove container '%s'", container);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

static int rename_container(struct occ_docker *dk, const char *id, const char *name,
			    struct occ_error *err)
{
	char *path = container_path(id, "/rename?name=");
	struct occ_strbuf full = OCC_STRBUF_INIT;
	struct occ_docker_resp resp;
	int ret;

	occ_strbuf_adds(&full, path);
	occ_docker__url_escape(&full, name);
	ret = occ_docker__call(dk, "POST", full.buf, NULL, &resp, err);
	if (!ret && resp.status != 204)
		ret = occ_docker__api_error(err, &resp, "cannot rename container %.12s to '%s'",
					    id, name);
	occ_docker__resp_release(&resp);
	occ_strbuf_release(&full);
	free(path);
	return ret;
}

/* ---- actions ------------------------------------------------------------ */

static int act_pull(struct occ_docker *dk, const struct occ_state *desired,
		    const struct occ_observed *obs, const struct occ_action *act,
		    struct occ_error *err)
{
	(void)obs;
	(void)act;
	return occ_docker__pull(dk, desired, err);
}

static int act_build(struct occ_docker *dk, const struct occ_state *desired,
		     const struct occ_observed *obs, const struct occ_action *act,
		     struct occ_error *err)
{
	(void)obs;
	(void)act;
	return occ_docker__build(dk, desired, err);
}

static int act_volume_create(struct occ_docker *dk, const struct occ_state *desired,
			     const struct occ_observed *obs, const struct occ_action *act,
			     struct occ_error *err)
{
	char *body = occ_docker__volume_body(act->name, desired->name);
	struct occ_kvlist labels = { 0 };
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "POST", "/volumes/create", body, &resp, err);

	(void)obs;
	if (ret)
		goto out;
	if (resp.status != 201 && resp.status != 200) {
		ret = occ_docker__api_error(err, &resp, "cannot create volume '%s'", act->name);
		goto out;
	}
	/* Creating an existing volume succeeds and returns it: check it is ours. */
	ret = occ_docker__parse_volume_labels(&labels, resp.body.buf, resp.body.len, err);
	if (!ret && !occ_streq(occ_kvlist_get(&labels, OCC_LABEL_PROJECT), desired->name)) {
		ret = occ_error_set(err, OCC_ECONFLICT,
				    "volume '%s' already exists and occ does not manage it",
				    act->name);
		occ_error_hint(err, "remove it ('docker volume rm %s') if its data is not "
			       "needed, or choose another project name", act->name);
	}
out:
	occ_kvlist_release(&labels);
	occ_docker__resp_release(&resp);
	free(body);
	return ret;
}

/*
 * Accounts go into a new container before it ever starts. When that fails
 * the container goes again: the next apply starts over from "missing"
 * instead of finding a container without its users.
 */
static int provision_users(struct occ_docker *dk, const struct occ_state *desired,
			   const struct occ_observed *obs, const char *id, struct occ_error *err)
{
	struct occ_error e2;
	int ret = occ_docker__users_provision(dk, desired, obs, id, err);

	if (!ret)
		return 0;
	occ_error_clear(&e2);
	if (occ_docker__remove(dk, id, &e2))
		append_msg(err, "; the new container %.12s could not be removed: %s", id, e2.msg);
	return ret;
}

static int act_create(struct occ_docker *dk, const struct occ_state *desired,
		      const struct occ_observed *obs, const struct occ_action *act,
		      struct occ_error *err)
{
	const struct occ_obs_container *holder = occ_observed_container(obs, desired->name);
	char *id = NULL;
	int ret;

	(void)act;
	if (holder && !holder->owned)
		return foreign_conflict(err, desired->name, holder->id);
	ret = create_container(dk, desired, desired->name, &id, err);
	if (!ret)
		ret = provision_users(dk, desired, obs, id, err);
	free(id);
	return ret;
}

static bool same_container(const struct occ_docker_brief *b, const char *ref, const char *name)
{
	return occ_starts_with(b->id, ref) || strcmp(ref, name) == 0;
}

/*
 * Make room for a helper name ("<name>-occ-next", "<name>-occ-old"): a
 * leftover of ours goes, anyone else's stays. When the container being
 * replaced is itself the one under that name (an earlier recreate was cut
 * short), it gets its proper name back first.
 */
static int clear_name(struct occ_docker *dk, const struct occ_state *desired,
		      const char *name, const char *old, struct occ_error *err)
{
	struct occ_docker_brief b;
	int ret = occ_docker__inspect_brief(dk, &b, name, err);

	if (ret == OCC_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	if (!owns(&b, desired->name))
		return foreign_conflict(err, name, b.id);
	if (same_container(&b, old, name))
		return rename_container(dk, b.id, desired->name, err);
	return occ_docker__remove(dk, b.id, err);
}

/* A recreate in flight: the new container and the one it replaces. */
struct swap {
	const char *new_id;
	const char *old;          /* id (or name) of the replaced container */
	bool old_running;         /* it ran before: restart it on failure */
	bool old_renamed;         /* it is under "<name>-occ-old" now */
};

/* Something failed after the old container stopped: remove the new one and
 * put the old one back as it was. What goes wrong here is added to err. */
static void roll_back(struct occ_docker *dk, const struct occ_state *desired,
		      const struct swap *s, struct occ_error *err)
{
	struct occ_error e2;

	occ_error_clear(&e2);
	if (occ_docker__remove(dk, s->new_id, &e2))
		append_msg(err, "; the new container %.12s could not be removed: %s", s->new_id,
			   e2.msg);
	if (s->old_renamed && rename_container(dk, s->old, desired->name, &e2)) {
		append_msg(err, "; the previous container could not get its name back: %s",
			   e2.msg);
		return;
	}
	if (!s->old_running)
		return;
	if (occ_docker__start(dk, desired, s->old, desired->name, &e2))
		append_msg(err, "; the previous container could not be restarted: %s", e2.msg);
	else
		append_msg(err, "; the previous container is running again");
}

static bool was_running(struct occ_docker *dk, const char *id)
{
	struct occ_docker_brief b;
	struct occ_error ignored;

	occ_error_clear(&ignored);
	if (occ_docker__inspect_brief(dk, &b, id, &ignored))
		return false;
	return b.state == OCC_CTR_RUNNING || b.state == OCC_CTR_RESTARTING;
}

/*
 * Old stopped, new created as "<name>-occ-next": swap the names while neither
 * runs, start the new one, retire the old one. Renaming only stopped
 * containers matters: Docker 20.10 fails to rename a container that exits
 * during the call ("sandbox ... not found"), which a crashing new service
 * would hit.
 */
static int swap_in(struct occ_docker *dk, const struct occ_state *desired, struct swap *s,
		   const char *old_name, struct occ_error *err)
{
	int ret = rename_container(dk, s->old, old_name, err);

	s->old_renamed = ret == 0;
	if (!ret)
		ret = rename_container(dk, s->new_id, desired->name, err);
	if (!ret && desired->container.running)
		ret = occ_docker__start(dk, desired, s->new_id, desired->name, err);
	if (ret) {
		roll_back(dk, desired, s, err);
		return ret;
	}
	return occ_docker__remove(dk, s->old, err);
}

static const struct occ_obs_container *by_id(const struct occ_observed *obs, const char *id)
{
	for (size_t i = 0; obs && id && i < obs->n_containers; i++)
		if (strcmp(obs->containers[i].id, id) == 0)
			return &obs->containers[i];
	return NULL;
}

/* The container an action is about: its id, else (created in this apply) its name. */
static const char *target(const struct occ_action *act, const struct occ_state *desired)
{
	if (act->target_id)
		return act->target_id;
	return act->name ? act->name : desired->name;
}

/* Whether the action's container is one occ does not own (by id, or by
 * name when the action names none). */
static int refuse_foreign(const struct occ_observed *obs, const struct occ_action *act,
			  const struct occ_state *desired, const char *verb,
			  struct occ_error *err)
{
	const struct occ_obs_container *c = act->target_id ? by_id(obs, act->target_id) :
					    occ_observed_container(obs, target(act, desired));

	if (!c || c->owned)
		return 0;
	occ_error_set(err, OCC_ECONFLICT, "refusing to %s container '%s': occ does not manage it",
		      verb, c->name);
	return err->code;
}

static int act_recreate(struct occ_docker *dk, const struct occ_state *desired,
			const struct occ_observed *obs, const struct occ_action *act,
			struct occ_error *err)
{
	char *next = occ_xasprintf("%s%s", desired->name, OCC_DOCKER_NEXT_SUFFIX);
	char *prev = occ_xasprintf("%s%s", desired->name, OCC_DOCKER_OLD_SUFFIX);
	struct swap s = { .old = target(act, desired) };
	char *new_id = NULL;
	int ret = refuse_foreign(obs, act, desired, "replace", err);

	if (!ret)
		ret = clear_name(dk, desired, next, s.old, err);
	if (!ret)
		ret = clear_name(dk, desired, prev, s.old, err);
	if (!ret)
		ret = create_container(dk, desired, next, &new_id, err);
	if (!ret)
		ret = provision_users(dk, desired, obs, new_id, err);
	if (ret)
		goto out;
	s.new_id = new_id;
	s.old_running = was_running(dk, s.old);
	ret = occ_docker__stop(dk, s.old, STOP_TIMEOUT_S, err);
	if (ret)
		roll_back(dk, desired, &s, err);
	else
		ret = swap_in(dk, desired, &s, prev, err);
out:
	free(new_id);
	free(prev);
	free(next);
	return ret;
}

static int act_start(struct occ_docker *dk, const struct occ_state *desired,
		     const struct occ_observed *obs, const struct occ_action *act,
		     struct occ_error *err)
{
	const char *name = act->name ? act->name : desired->name;
	int ret = refuse_foreign(obs, act, desired, "start", err);

	return ret ? ret : occ_docker__start(dk, desired, target(act, desired), name, err);
}

static int act_stop(struct occ_docker *dk, const struct occ_state *desired,
		    const struct occ_observed *obs, const struct occ_action *act,
		    struct occ_error *err)
{
	int ret = refuse_foreign(obs, act, desired, "stop", err);

	return ret ? ret : occ_docker__stop(dk, target(act, desired), STOP_TIMEOUT_S, err);
}

static int act_remove(struct occ_docker *dk, const struct occ_state *desired,
		      const struct occ_observed *obs, const struct occ_action *act,
		      struct occ_error *err)
{
	int ret = refuse_foreign(obs, act, desired, "remove", err);

	return ret ? ret : occ_docker__remove(dk, target(act, desired), err);
}

static const action_fn actions[] = {
	[OCC_ACT_IMAGE_PULL] = act_pull,
	[OCC_ACT_IMAGE_BUILD] = act_build,
	[OCC_ACT_VOLUME_CREATE] = act_volume_create,
	[OCC_ACT_CONTAINER_CREATE] = act_create,
	[OCC_ACT_CONTAINER_RECREATE] = act_recreate,
	[OCC_ACT_CONTAINER_START] = act_start,
	[OCC_ACT_CONTAINER_STOP] = act_stop,
	[OCC_ACT_CONTAINER_REMOVE] = act_remove,
	[OCC_ACT_USER_CREATE] = occ_docker__act_user,
	[OCC_ACT_USER_UPDATE] = occ_docker__act_user,
	[OCC_ACT_USER_REMOVE] = occ_docker__act_user,
};

int occ_docker__apply(struct occ_driver *d, const struct occ_state *desired,
		      const struct occ_observed *obs, const struct occ_action *act,
		      struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);

	if ((size_t)act->kind >= OCC_ARRAY_SIZE(actions) || !actions[act->kind])
		return occ_error_set(err, OCC_EGENERIC,
				     "the Docker driver cannot carry out action %d", (int)act->kind);
	return actions[act->kind](dk, desired, obs, act, err);
}
