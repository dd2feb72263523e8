/* The few Node-API (N-API) declarations spawn-addon.c uses, as js_native_api.h declares them.
 * Node-API is an ABI-stable C interface exported by the node binary itself, so declaring the
 * calls here lets the addon build with cc alone, on hosts whose Node came without headers. */
#ifndef CORDON_NAPI_H
#define CORDON_NAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

typedef enum { napi_ok } napi_status; /* the other values are failures, never compared */

typedef enum {
	napi_undefined,
	napi_null,
	napi_boolean,
	napi_number,
	napi_string,
	napi_symbol,
	napi_object,
	napi_function,
	napi_external,
	napi_bigint,
} napi_valuetype;

#define NAPI_EXPORT __attribute__((visibility("default")))

napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t *argc,
			     napi_value *argv, napi_value *this_arg, void **data);
napi_status napi_create_function(napi_env env, const char *utf8name, size_t length,
				 napi_callback cb, void *data, napi_value *result);
napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name,
				    napi_value value);
napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char *buf, size_t bufsize,
				       size_t *result);
napi_status napi_get_array_length(napi_env env, napi_value value, uint32_t *result);
napi_status napi_get_element(napi_env env, napi_value object, uint32_t index, napi_value *result);
napi_status napi_set_element(napi_env env, napi_value object, uint32_t index, napi_value value);
napi_status napi_get_value_int32(napi_env env, napi_value value, int32_t *result);
napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
napi_status napi_create_array_with_length(napi_env env, size_t length, napi_value *result);
napi_status napi_get_null(napi_env env, napi_value *result);
napi_status napi_get_boolean(napi_env env, bool value, napi_value *result);
napi_status napi_throw_error(napi_env env, const char *code, const char *msg);
typedef void (*napi_finalize)(napi_env env, void *data, void *hint);
napi_status napi_set_instance_data(napi_env env, void *data, napi_finalize finalize_cb,
				   void *finalize_hint);
napi_status napi_get_instance_data(napi_env env, void **data);

#endif
