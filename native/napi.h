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
napi_status napi_get_buffer_info(napi_env env, napi_value value, void **data, size_t *length);
napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
napi_status napi_create_array_with_length(napi_env env, size_t length, napi_value *result);
napi_status napi_get_null(napi_env env, napi_value *result);
napi_status napi_get_boolean(napi_env env, bool value, napi_value *result);
napi_status napi_get_value_bool(napi_env env, napi_value value, bool *result);
napi_status napi_throw_error(napi_env env, const char *code, const char *msg);
typedef void (*napi_finalize)(napi_env env, void *data, void *hint);
napi_status napi_set_instance_data(napi_env env, void *data, napi_finalize finalize_cb,
				   void *finalize_hint);
napi_status napi_get_instance_data(napi_env env, void **data);
napi_status napi_create_external_buffer(napi_env env, size_t length, void *data,
					napi_finalize finalize_cb, void *finalize_hint,
					napi_value *result);
napi_status napi_create_double(napi_env env, double value, napi_value *result);

/* For watch() (spawn-addon.c): calls into JavaScript from the event loop. */
typedef struct napi_ref__ *napi_ref;
typedef struct napi_handle_scope__ *napi_handle_scope;
typedef struct napi_async_context__ *napi_async_context;
typedef struct napi_async_cleanup_hook_handle__ *napi_async_cleanup_hook_handle;
typedef void (*napi_async_cleanup_hook)(napi_async_cleanup_hook_handle handle, void *data);
struct uv_loop_s;
#define NAPI_AUTO_LENGTH SIZE_MAX

napi_status napi_typeof(napi_env env, napi_value value, napi_valuetype *result);
napi_status napi_get_global(napi_env env, napi_value *result);
napi_status napi_get_undefined(napi_env env, napi_value *result);
napi_status napi_create_string_utf8(napi_env env, const char *str, size_t length,
				    napi_value *result);
napi_status napi_create_reference(napi_env env, napi_value value, uint32_t initial_refcount,
				  napi_ref *result);
napi_status napi_delete_reference(napi_env env, napi_ref ref);
napi_status napi_get_reference_value(napi_env env, napi_ref ref, napi_value *result);
napi_status napi_open_handle_scope(napi_env env, napi_handle_scope *result);
napi_status napi_close_handle_scope(napi_env env, napi_handle_scope scope);
napi_status napi_async_init(napi_env env, napi_value async_resource, napi_value async_resource_name,
			    napi_async_context *result);
napi_status napi_async_destroy(napi_env env, napi_async_context async_context);
napi_status napi_make_callback(napi_env env, napi_async_context async_context, napi_value recv,
			       napi_value func, size_t argc, const napi_value *argv,
			       napi_value *result);
napi_status napi_is_exception_pending(napi_env env, bool *result);
napi_status napi_get_and_clear_last_exception(napi_env env, napi_value *result);
napi_status napi_fatal_exception(napi_env env, napi_value err);
napi_status napi_get_uv_event_loop(napi_env env, struct uv_loop_s **loop);
napi_status napi_add_async_cleanup_hook(napi_env env, napi_async_cleanup_hook hook, void *arg,
					napi_async_cleanup_hook_handle *remove_handle);
napi_status napi_remove_async_cleanup_hook(napi_async_cleanup_hook_handle remove_handle);

/* The few libuv calls watch() makes, as uv.h declares them: Node exports libuv, whose ABI is
 * stable across 1.x. A poll handle is allocated at uv_handle_size(), so its layout is never
 * needed here. */
typedef struct uv_handle_s uv_handle_t;
typedef struct uv_poll_s uv_poll_t;
typedef void (*uv_poll_cb)(uv_poll_t *handle, int status, int events);
typedef void (*uv_close_cb)(uv_handle_t *handle);
enum { UV_POLL_HANDLE = 8 }; /* UV_POLL in uv.h's uv_handle_type */
enum { UV_READABLE = 1, UV_DISCONNECT = 4 };
size_t uv_handle_size(int type);
int uv_poll_init(struct uv_loop_s *loop, uv_poll_t *handle, int fd);
int uv_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb);
int uv_poll_stop(uv_poll_t *handle);
void uv_close(uv_handle_t *handle, uv_close_cb close_cb);
void uv_handle_set_data(uv_handle_t *handle, void *data);
void *uv_handle_get_data(const uv_handle_t *handle);

#endif
