/*
 * docker-volume.c - removing a project's volume, on explicit request only.
 *
 * The reconciler never removes volumes: they hold the users' data. `occ
 * volume remove` comes here after the user confirmed; only a volume labelled
 * with the project is removed, and Docker itself refuses one still in use.
 */
#include "drivers/docker/docker-int.h"

#include <stdlib.h>
#include <string.h>

int occ_docker_volume_remove(struct occ_driver *d, const char *project, const char *name,
			     struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	struct occ_strbuf path = OCC_STRBUF_INIT;
	struct occ_observed obs;
	struct occ_state *probe = occ_state_new_default();
	const struct occ_obs_volume *v;
	struct occ_docker_resp resp;
	int ret;

	occ_observed_init(&obs);
	occ_docker__resp_init(&resp);
	/* Observe as the project would: that lists its volumes with ownership. */
	free(probe->name);
	probe->name = occ_xstrdup(project);
	ret = occ_driver_observe(d, probe, &obs, err);
	if (ret)
		goto out;
	v = occ_observed_volume(&obs, name);
	if (!v) {
		ret = occ_error_set(err, OCC_ENOTFOUND, "project '%s' has no volume '%s'", project, name);
		goto out;
	}
	if (!v->owned) {
		ret = occ_error_set(err, OCC_ECONFLICT, "volume '%s' was not created by occ for '%s'",
				    name, project);
		occ_error_hint(err, "occ never removes what it does not own; use 'docker volume rm'");
		goto out;
	}
	occ_strbuf_adds(&path, "/volumes/");
	occ_docker__url_escape(&path, name);
	occ_docker__resp_release(&resp);
	ret = occ_docker__call(dk, "DELETE", path.buf, NULL, &resp, err);
	if (ret)
		goto out;
	if (resp.status == 409) {
		ret = occ_docker__api_error(err, &resp, "cannot remove volume '%s'", name);
		err->code = ret = OCC_ECONFLICT;
		occ_error_hint(err, "the volume is in use: 'occ stop' (or remove the container) first");
	} else if (resp.status != 204 && resp.status != 404) {
		ret = occ_docker__api_error(err, &resp, "cannot remove volume '%s'", name);
	}
out:
	occ_docker__resp_release(&resp);
	occ_strbuf_release(&path);
	occ_observed_release(&obs);
	occ_state_free(probe);
	return ret;
}
