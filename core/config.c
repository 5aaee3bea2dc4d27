/* SPDX-License-Identifier: MIT */
/* config.c - read rulsrv.conf(5) with libconfig, apply -o overrides, validate, freeze. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#ifndef RULSRV_DEFAULT_PLUGIN_DIR
#define RULSRV_DEFAULT_PLUGIN_DIR "/usr/lib/rulsrv/plugins"
#endif

/* Parsing state: the config being built and where the first error goes. */
struct cfgp {
	struct config *c;
	char *err;
	size_t err_len;
};

static int __attribute__((format(printf, 3, 4)))
cfgp_error(struct cfgp *p, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_value_verror(p->c, s, NULL, p->err, p->err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
config_parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon, *port_text;
	char *end;
	long port;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - text - 1);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		port_text = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -EINVAL;
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		port_text = colon + 1;
	}
	errno = 0;
	port = strtol(port_text, &end, 10);
	if (port_text[0] == '\0' || *end != '\0' || errno != 0 || port < 0 || port > 65535)
		return -EINVAL;
	if (text[0] != '[' && strchr(host, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (host[0] == '\0' || strcmp(host, "*") == 0)
			in->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*in6);
	}
	return 0;
}

/* ---- -o overrides ------------------------------------------------------------------------ */

static bool
parse_int(const char *v, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 0);
	return v[0] != '\0' && *end == '\0' && errno == 0;
}

static bool
parse_double(const char *v, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	return v[0] != '\0' && *end == '\0' && errno == 0 && isfinite(*out);
}

/* A scalar of the type the text looks like: int, float, bool, "quoted" or bare string. */
static int
override_scalar(config_setting_t *parent, const char *name, const char *v, config_setting_t **out)
{
	config_setting_t *s;
	long long i;
	double d;
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		char *copy = strndup(v + 1, n - 2);
		int ok;

		if (copy == NULL)
			return -ENOMEM;
		s = config_setting_add(parent, name, CONFIG_TYPE_STRING);
		ok = s != NULL && config_setting_set_string(s, copy) == CONFIG_TRUE;
		free(copy);
		if (!ok)
			return -EINVAL;
	} else if (parse_int(v, &i)) {
		bool big = i > INT_MAX || i < INT_MIN;

		s = config_setting_add(parent, name, big ? CONFIG_TYPE_INT64 : CONFIG_TYPE_INT);
		if (s == NULL)
			return -EINVAL;
		if (big)
			config_setting_set_int64(s, i);
		else
			config_setting_set_int(s, (int)i);
	} else if (parse_double(v, &d)) {
		s = config_setting_add(parent, name, CONFIG_TYPE_FLOAT);
		if (s == NULL)
			return -EINVAL;
		config_setting_set_float(s, d);
	} else if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		s = config_setting_add(parent, name, CONFIG_TYPE_BOOL);
		if (s == NULL)
			return -EINVAL;
		config_setting_set_bool(s, v[0] == 't');
	} else {
		s = config_setting_add(parent, name, CONFIG_TYPE_STRING);
		if (s == NULL || config_setting_set_string(s, v) != CONFIG_TRUE)
			return -EINVAL;
	}
	*out = s;
	return 0;
}

/* "[a, b, "c"]": an array of scalars of one type (strings when mixed). */
static int
override_array(config_setting_t *parent, const char *name, const char *v, config_setting_t **out)
{
	char *copy, *tok, *save = NULL;
	config_setting_t *arr, *el;
	int r = 0;

	copy = strndup(v + 1, strlen(v) - 2);
	if (copy == NULL)
		return -ENOMEM;
	arr = config_setting_add(parent, name, CONFIG_TYPE_ARRAY);
	if (arr == NULL) {
		free(copy);
		return -EINVAL;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t n = strlen(tok);
		while (n > 0 && tok[n - 1] == ' ')
			tok[--n] = '\0';
		if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') {
			tok[n - 1] = '\0';
			tok++;
		}
		el = config_setting_add(arr, NULL, CONFIG_TYPE_STRING);
		if (el == NULL || config_setting_set_string(el, tok) != CONFIG_TRUE) {
			r = -EINVAL;
			break;
		}
	}
	free(copy);
	*out = arr;
	return r;
}

static int
config_apply_override(struct cfgp *p, const char *text)
{
	struct config *c = p->c;
	config_setting_t *node = config_root_setting(&c->cfg), *next, *made = NULL;
	const char *eq = strchr(text, '='), *value;
	char *path, *comp, *save = NULL, *last;
	char **texts;
	int r;

	if (eq == NULL || eq == text) {
		snprintf(p->err, p->err_len, "command line: -o '%s': expected SETTING=VALUE", text);
		return -EINVAL;
	}
	value = eq + 1;
	path = strndup(text, (size_t)(eq - text));
	if (path == NULL)
		return -ENOMEM;
	last = strrchr(path, '.');
	if (last != NULL) {
		*last++ = '\0';
		for (comp = strtok_r(path, ".", &save); comp != NULL; comp = strtok_r(NULL, ".", &save)) {
			next = config_setting_get_member(node, comp);
			if (next == NULL)
				next = config_setting_add(node, comp, CONFIG_TYPE_GROUP);
			if (next == NULL || !config_setting_is_group(next)) {
				snprintf(p->err, p->err_len,
					 "command line: -o '%s': '%s' is not a group", text, comp);
				free(path);
				return -EINVAL;
			}
			node = next;
		}
	} else {
		last = path;
	}
	if (config_setting_get_member(node, last) != NULL)
		config_setting_remove(node, last);
	if (value[0] == '[' && value[strlen(value) - 1] == ']')
		r = override_array(node, last, value, &made);
	else
		r = override_scalar(node, last, value, &made);
	if (r < 0) {
		snprintf(p->err, p->err_len, "command line: -o '%s': invalid setting name or value", text);
		free(path);
		return r;
	}
	free(path);
	texts = realloc(c->override_texts, (c->override_count + 1) * sizeof(*texts));
	if (texts == NULL)
		return -ENOMEM;
	c->override_texts = texts;
	texts[c->override_count] = strdup(value);
	if (texts[c->override_count] == NULL)
		return -ENOMEM;
	config_setting_set_hook(made, texts[c->override_count++]);
	return 0;
}

/* ---- the core's own settings, through config_value.c --------------------------------------- */

/* Only names in allowed (NULL-terminated) may appear in group. */
static int
check_members(struct cfgp *p, const config_setting_t *group, const char *const *allowed)
{
	int i, n = config_setting_length(group);
	size_t k;

	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (k = 0; allowed[k] != NULL && !ok; k++)
			ok = strcmp(allowed[k], name) == 0;
		if (!ok)
			return cfgp_error(p, m, "unknown setting");
	}
	return 0;
}

static int
get_string(struct cfgp *p, const config_setting_t *group, const char *name, bool required,
	   const char *def, char **out)
{
	const config_setting_t *s = config_setting_get_member(group, name);

	if (s == NULL && required) {
		*out = NULL;
		return cfgp_error(p, group, "missing required setting '%s'", name);
	}
	return config_value_string(p->c, s, def, out, p->err, p->err_len);
}

static int
get_path(struct cfgp *p, const config_setting_t *group, const char *name, char **out)
{
	return config_value_path(p->c, config_setting_get_member(group, name), NULL, out, p->err,
				 p->err_len);
}

static int
get_int(struct cfgp *p, const config_setting_t *group, const char *name, int64_t def,
	int64_t min, int64_t max, int64_t *out)
{
	return config_value_int(p->c, config_setting_get_member(group, name), def, min, max, out,
				p->err, p->err_len);
}

static const config_setting_t *
get_group(struct cfgp *p, const config_setting_t *group, const char *name, int *r)
{
	const config_setting_t *s = config_setting_get_member(group, name);

	*r = 0;
	if (s != NULL && !config_setting_is_group(s)) {
		*r = cfgp_error(p, s, "expected a group, got %s",
				config_type_name(config_setting_type(s)));
		return NULL;
	}
	return s;
}

/* ---- sections ------------------------------------------------------------------------------ */

static int
parse_plugin(struct cfgp *p, config_setting_t *g, struct config_plugin *pl)
{
	static const char *const allowed[] = { "file", "settings", NULL };
	char *file;
	int r;

	pl->name = strdup(config_setting_name(g));
	pl->setting = g;
	if (pl->name == NULL)
		return -ENOMEM;
	if (!config_setting_is_group(g))
		return cfgp_error(p, g, "expected a group, got %s",
				  config_type_name(config_setting_type(g)));
	r = check_members(p, g, allowed);
	if (r < 0)
		return r;
	r = get_string(p, g, "file", true, NULL, &file);
	if (r < 0)
		return r;
	pl->file = config_resolve_path(p->c->plugin_dir, file);
	free(file);
	if (pl->file == NULL)
		return -ENOMEM;
	pl->settings = (config_setting_t *)get_group(p, g, "settings", &r);
	return r;
}

static int
parse_service_plugins(struct cfgp *p, const config_setting_t *g, struct config_service *sv)
{
	const config_setting_t *arr = config_setting_get_member(g, "plugins");
	int i, n;

	if (arr == NULL)
		return 0;
	if (!config_setting_is_aggregate(arr) || config_setting_is_group(arr))
		return cfgp_error(p, arr, "expected an array of plugin instance names, got %s",
				  config_type_name(config_setting_type(arr)));
	n = config_setting_length(arr);
	sv->plugins = calloc((size_t)n + 1, sizeof(*sv->plugins));
	if (sv->plugins == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const config_setting_t *el = config_setting_get_elem(arr, (unsigned)i);
		const char *name;
		size_t k;

		if (config_setting_type(el) != CONFIG_TYPE_STRING)
			return cfgp_error(p, el, "expected a plugin instance name, got %s",
					  config_type_name(config_setting_type(el)));
		name = config_setting_get_string(el);
		if (config_plugin_find(p->c, name) == NULL)
			return cfgp_error(p, el, "no plugin instance '%s' in 'plugins'", name);
		for (k = 0; k < sv->plugin_count; k++)
			if (strcmp(sv->plugins[k], name) == 0)
				return cfgp_error(p, el, "plugin instance '%s' listed twice", name);
		sv->plugins[sv->plugin_count] = strdup(name);
		if (sv->plugins[sv->plugin_count++] == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int
parse_service(struct cfgp *p, config_setting_t *g, struct config_service *sv)
{
	static const char *const allowed[] = {
		"listen", "plugins", "threads", "max_body_bytes", "max_inflight_body_bytes",
		"max_connections",
		"connection_timeout_seconds", "request_timeout_seconds", "admin_token_file",
		"tls_cert_file", "tls_key_file", NULL,
	};
	int64_t v;
	long cores;
	int r;

	sv->name = strdup(config_setting_name(g));
	if (sv->name == NULL)
		return -ENOMEM;
	if (!config_setting_is_group(g))
		return cfgp_error(p, g, "expected a group, got %s",
				  config_type_name(config_setting_type(g)));
	if ((r = check_members(p, g, allowed)) < 0 ||
	    (r = get_string(p, g, "listen", true, NULL, &sv->listen)) < 0)
		return r;
	if (config_parse_listen(sv->listen, &sv->addr, &sv->addr_len) < 0)
		return cfgp_error(p, config_setting_get_member(g, "listen"),
				  "'%s' is not ADDR:PORT (an IP address and a port 0..65535)", sv->listen);
	if ((r = parse_service_plugins(p, g, sv)) < 0)
		return r;
	if ((r = get_int(p, g, "threads", 0, 0, 1024, &v)) < 0)
		return r;
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	sv->threads = v > 0 ? (unsigned)v : (unsigned)(cores > 0 ? cores : 1);
	if ((r = get_int(p, g, "max_body_bytes", CONFIG_DEFAULT_MAX_BODY_BYTES, 1, 1LL << 34, &v)) < 0)
		return r;
	sv->max_body_bytes = (size_t)v;
	/* Below max_body_bytes is allowed: a body larger than the budget is then always 503. */
	if ((r = get_int(p, g, "max_inflight_body_bytes", CONFIG_DEFAULT_MAX_INFLIGHT_BODY_BYTES, 1,
			 1LL << 44, &v)) < 0)
		return r;
	sv->max_inflight_body_bytes = (size_t)v;
	if ((r = get_int(p, g, "max_connections", CONFIG_DEFAULT_MAX_CONNECTIONS, 1, 1000000, &v)) < 0)
		return r;
	sv->max_connections = (unsigned)v;
	if ((r = get_int(p, g, "connection_timeout_seconds", CONFIG_DEFAULT_TIMEOUT_SECONDS, 0, 86400,
			 &v)) < 0)
		return r;
	sv->connection_timeout = (unsigned)v;
	if ((r = get_int(p, g, "request_timeout_seconds", CONFIG_DEFAULT_REQUEST_TIMEOUT_SECONDS, 0,
			 86400, &v)) < 0)
		return r;
	sv->request_timeout = (unsigned)v;
	if ((r = get_path(p, g, "admin_token_file", &sv->admin_token_file)) < 0 ||
	    (r = get_path(p, g, "tls_cert_file", &sv->tls_cert_file)) < 0 ||
	    (r = get_path(p, g, "tls_key_file", &sv->tls_key_file)) < 0)
		return r;
	if ((sv->tls_cert_file == NULL) != (sv->tls_key_file == NULL))
		return cfgp_error(p, g, "tls_cert_file and tls_key_file go together");
	return 0;
}

static int
parse_root(struct cfgp *p)
{
	static const char *const allowed[] = { "plugin_dir", "log_level", "plugins", "services", NULL };
	struct config *c = p->c;
	const config_setting_t *root = config_root_setting(&c->cfg), *plugins, *services;
	char *level, *dir;
	int i, r;

	if ((r = check_members(p, root, allowed)) < 0)
		return r;
	if ((r = get_string(p, root, "plugin_dir", false, NULL, &dir)) < 0)
		return r;
	c->plugin_dir = dir != NULL ? config_resolve_path(c->dir, dir) : strdup(RULSRV_DEFAULT_PLUGIN_DIR);
	free(dir);
	if (c->plugin_dir == NULL)
		return -ENOMEM;
	if ((r = get_string(p, root, "log_level", false, "info", &level)) < 0)
		return r;
	r = log_level_parse(level, &c->log_level);
	free(level);
	if (r < 0)
		return cfgp_error(p, config_setting_get_member(root, "log_level"),
				  "expected one of err, warning, notice, info, debug");
	plugins = get_group(p, root, "plugins", &r);
	if (r < 0)
		return r;
	if (plugins != NULL) {
		c->plugins = calloc((size_t)config_setting_length(plugins) + 1, sizeof(*c->plugins));
		if (c->plugins == NULL)
			return -ENOMEM;
		for (i = 0; i < config_setting_length(plugins); i++) {
			r = parse_plugin(p, config_setting_get_elem(plugins, (unsigned)i),
					 &c->plugins[c->plugin_count++]);
			if (r < 0)
				return r;
		}
	}
	services = get_group(p, root, "services", &r);
	if (r < 0)
		return r;
	if (services == NULL || config_setting_length(services) == 0) {
		snprintf(p->err, p->err_len, "%s: setting 'services': no service defined", c->file);
		return -EINVAL;
	}
	c->services = calloc((size_t)config_setting_length(services), sizeof(*c->services));
	if (c->services == NULL)
		return -ENOMEM;
	for (i = 0; i < config_setting_length(services); i++) {
		r = parse_service(p, config_setting_get_elem(services, (unsigned)i),
				  &c->services[c->service_count++]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
config_read_into(struct cfgp *p, const char *file)
{
	struct config *c = p->c;
	char *slash;

	c->file = strdup(file);
	c->dir = strdup(file);
	if (c->file == NULL || c->dir == NULL)
		return -ENOMEM;
	slash = strrchr(c->dir, '/');
	if (slash == NULL)
		strcpy(c->dir, ".");
	else if (slash == c->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	config_set_include_dir(&c->cfg, c->dir);
	if (config_read_file(&c->cfg, file) == CONFIG_TRUE)
		return 0;
	if (config_error_type(&c->cfg) == CONFIG_ERR_FILE_IO) {
		char buf[128];

		snprintf(p->err, p->err_len, "cannot read configuration file '%s': %s", file,
			 strerror_r(errno, buf, sizeof(buf)));
		return -EIO;
	}
	snprintf(p->err, p->err_len, "%s:%d: %s",
		 config_error_file(&c->cfg) != NULL ? config_error_file(&c->cfg) : file,
		 config_error_line(&c->cfg), config_error_text(&c->cfg));
	return -EINVAL;
}

int
config_load(const char *file, const char *const *overrides, size_t override_count,
	    struct config **out, char *err, size_t err_len)
{
	struct cfgp p = { .err = err, .err_len = err_len };
	size_t i;
	int r;

	*out = NULL;
	snprintf(err, err_len, "out of memory");
	p.c = calloc(1, sizeof(*p.c));
	if (p.c == NULL)
		return -ENOMEM;
	config_init(&p.c->cfg);
	r = config_read_into(&p, file);
	for (i = 0; r == 0 && i < override_count; i++)
		r = config_apply_override(&p, overrides[i]);
	if (r == 0)
		r = parse_root(&p);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, err_len, "out of memory");
		config_free(p.c);
		return r;
	}
	err[0] = '\0';
	*out = p.c;
	return 0;
}

void
config_free(struct config *c)
{
	size_t i, k;

	if (c == NULL)
		return;
	for (i = 0; i < c->plugin_count; i++) {
		free(c->plugins[i].name);
		free(c->plugins[i].file);
	}
	free(c->plugins);
	for (i = 0; i < c->service_count; i++) {
		struct config_service *sv = &c->services[i];

		free(sv->name);
		free(sv->listen);
		for (k = 0; k < sv->plugin_count; k++)
			free(sv->plugins[k]);
		free(sv->plugins);
		free(sv->admin_token_file);
		free(sv->tls_cert_file);
		free(sv->tls_key_file);
	}
	free(c->services);
	config_destroy(&c->cfg);
	for (i = 0; i < c->override_count; i++)
		free(c->override_texts[i]);
	free(c->override_texts);
	free(c->file);
	free(c->dir);
	free(c->plugin_dir);
	free(c);
}

const struct config_plugin *
config_plugin_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->plugin_count; i++)
		if (strcmp(c->plugins[i].name, name) == 0)
			return &c->plugins[i];
	return NULL;
}

const struct config_service *
config_service_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->service_count; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}
