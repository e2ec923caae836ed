/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/jobpolicy.c - the job's own copy of its policy
 *
 * Theory of operation: nbj_job_start() copies what the notifier and the
 * relay judge with (allow rules, floor exceptions, overlays, routes,
 * publish entries, unix_allow, the host's addresses), so the caller's
 * configuration is not referenced once it returns.  Overlay passwords are
 * read here (password_env, password_file) and I2P keys loaded or made
 * (i2pkey.c); job_policy_free() wipes the overlays before freeing them.
 */
#include "supervisor/job_int.h"

void job_policy_free(struct job_policy *p)
{
	free(p->allow);
	free(p->credentials);
	free(p->http_rules);
	free(p->floor_exceptions);
	if (p->overlays)
		explicit_bzero(p->overlays, p->policy.n_overlays * sizeof(*p->overlays));
	free(p->overlays);
	free(p->routes);
	free(p->publish);
	free(p->unix_allow);
	free(p->host_addrs);
	free(p->tls_roots);
}

static void *memdup_array(const void *src, size_t n, size_t size, int *err)
{
	void *p;

	if (!n)
		return NULL;
	p = calloc(n, size);
	if (!p)
		*err = -ENOMEM;
	else
		memcpy(p, src, n * size);
	return p;
}

/* An overlay's password, from its environment variable or file */
static int overlay_password(struct overlay *o)
{
	_cleanup_fclose_ FILE *f = NULL;
	const char *v;

	if (o->password_env[0]) {
		v = getenv(o->password_env);
		if (!v) {
			log_err("overlay %s: password_env %s is not set", o->name, o->password_env);
			return -ENOKEY;
		}
		if (strlen(v) > 255) {
			log_err("overlay %s: the password is longer than 255 bytes", o->name);
			return -EINVAL;
		}
		snprintf(o->password, sizeof(o->password), "%s", v);
	} else if (o->password_file[0]) {
		f = fopen(o->password_file, "re");
		if (!f || !fgets(o->password, sizeof(o->password), f)) {
			log_err("overlay %s: cannot read password_file %s", o->name,
				o->password_file);
			return -ENOKEY;
		}
		o->password[strcspn(o->password, "\r\n")] = '\0';
	}
	return 0;
}

/* The overlay registry, routes and default overlay of the job */
static int job_overlays_copy(struct job_policy *p, const struct nbj_config *cfg)
{
	int err = 0;

	p->policy.default_overlay = cfg->default_overlay;
	if (cfg->n_overlays) {
		p->overlays = memdup_array(cfg->overlays, cfg->n_overlays,
					   sizeof(*cfg->overlays), &err);
		p->policy.overlays = p->overlays;
		p->policy.n_overlays = cfg->n_overlays;
	}
	p->routes = memdup_array(cfg->routes, cfg->n_routes, sizeof(*cfg->routes), &err);
	p->policy.routes = p->routes;
	p->policy.n_routes = cfg->n_routes;
	p->publish = memdup_array(cfg->publish, cfg->n_publish, sizeof(*cfg->publish), &err);
	p->policy.publish = p->publish;
	p->policy.n_publish = cfg->n_publish;
	p->policy.select_allowed = cfg->select_allowed;
	for (size_t i = 0; i < cfg->n_publish; i++)
		p->publish_ports[i] = cfg->publish[i].to;
	if (err < 0)
		return err;
	if (cfg->default_overlay_name) {
		bool found = !strcmp(cfg->default_overlay_name, "direct");

		p->policy.default_overlay = OVERLAY_DIRECT_INDEX;
		for (size_t i = 1; i < p->policy.n_overlays && !found; i++)
			if (!strcmp(p->overlays[i].name, cfg->default_overlay_name)) {
				p->policy.default_overlay = (unsigned)i;
				found = true;
			}
		if (!found) {
			log_err("--overlay %s: the policy defines no such overlay",
				cfg->default_overlay_name);
			return -ENOENT;
		}
	}
	for (size_t i = 1; i < p->policy.n_overlays && !err; i++) {
		err = overlay_password(&p->overlays[i]);
		if (!err)
			err = i2p_overlay_key(&p->overlays[i]);
		if (!err && p->overlays[i].i2p_address[0])
			log_info("overlay %s: the job's I2P destination is %s",
				 p->overlays[i].name, p->overlays[i].i2p_address);
	}
	return err;
}

int job_policy_copy(struct job_policy *p, const struct nbj_config *cfg,
			   const struct host_inventory *inv)
{
	int err = 0;

	p->allow = memdup_array(cfg->allow, cfg->n_allow, sizeof(*cfg->allow), &err);
	p->floor_exceptions = memdup_array(cfg->floor_exceptions,
					   cfg->n_floor_exceptions,
					   sizeof(*cfg->floor_exceptions), &err);
	p->unix_allow = memdup_array(cfg->unix_allow, cfg->n_unix_allow,
				     sizeof(*cfg->unix_allow), &err);
	p->credentials = memdup_array(cfg->credentials, cfg->n_credentials,
				      sizeof(*cfg->credentials), &err);
	p->http_rules = memdup_array(cfg->http_rules, cfg->n_http_rules,
				     sizeof(*cfg->http_rules), &err);
	p->host_addrs = memdup_array(inv->addrs, inv->n_addrs,
				     sizeof(*inv->addrs), &err);
	p->n_unix_allow = cfg->n_unix_allow;
	p->n_host_addrs = inv->n_addrs;
	p->policy = (struct nbj_policy){
		.allow = p->allow,
		.n_allow = cfg->n_allow,
		.floor_exceptions = p->floor_exceptions,
		.n_floor_exceptions = cfg->n_floor_exceptions,
		.credentials = p->credentials,
		.n_credentials = p->credentials ? cfg->n_credentials : 0,
		.http_rules = p->http_rules,
		.n_http_rules = p->http_rules ? cfg->n_http_rules : 0,
	};
	job_net_prefixes(p->job_nets);
	if (!err)
		err = job_overlays_copy(p, cfg);
	return err;
}
