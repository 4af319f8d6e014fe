/*
 * A C client of the Accord protocol, built from libwayland-client and the
 * code wayland-scanner generates from protocol/buffer-collection-v1.xml:
 * the path GStreamer, Mesa or Chromium would take.
 *
 * It creates a collection, gives a duplicate token to the compositor for its
 * surface (so the renderer's and planes' formats take part), commits
 * CPU-write constraints, receives the buffers (fds in plane events), maps
 * buffer 0 and paints four quadrants, then attaches it to a surface through
 * get_wl_buffer: no wl_shm, no linux-dmabuf, no second import.
 *
 * Usage: accord-c-client [--size WxH] [--hold]
 *   --size  minimum buffer size (default 96x48)
 *   --hold  after presenting, keep the window until stdin reaches EOF
 *
 * Output (stdout), one line each, for scripts and tests:
 *   c-client: negotiated format=XR24 modifier=0x0 size=96x48 buffers=2 memory=memfd
 *   c-client: buffer 0 plane 0 offset=0 stride=384 bytes=18432
 *   c-client: presented
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <wayland-client.h>

#include "buffer-collection-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"

#define DRM_FORMAT_XRGB8888 0x34325258u /* 'XR24' */
#define DRM_FORMAT_MOD_LINEAR 0ull

/* Quadrant colours (XRGB8888): red, green, blue, white. */
static const uint32_t quadrant[4] = {0xffff0000u, 0xff00ff00u, 0xff0000ffu, 0xffffffffu};

struct client {
	struct wl_compositor *compositor;
	struct xdg_wm_base *wm_base;
	struct wp_buffer_collection_manager_v1 *manager;

	/* Outcome of the negotiation. */
	bool allocated, failed, configured, frame_done;
	uint32_t format, width, height, count, memory_kind;
	uint64_t modifier;
	uint64_t size0;	       /* bytes of buffer 0's memory object */
	int fd0;	       /* plane 0 of buffer 0; -1 until received */
	uint32_t offset0, stride0;
	uint32_t planes0;      /* planes of buffer 0 */
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "c-client: error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

/* ---- registry ---------------------------------------------------------- */

static void registry_global(void *data, struct wl_registry *registry, uint32_t name,
			    const char *interface, uint32_t version)
{
	struct client *c = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0)
		c->compositor = wl_registry_bind(registry, name, &wl_compositor_interface,
						 version < 4 ? version : 4);
	else if (strcmp(interface, xdg_wm_base_interface.name) == 0)
		c->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
	else if (strcmp(interface, wp_buffer_collection_manager_v1_interface.name) == 0)
		c->manager = wl_registry_bind(registry, name,
					      &wp_buffer_collection_manager_v1_interface, 1);
}

static void registry_global_remove(void *data, struct wl_registry *r, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {
	.global = registry_global,
	.global_remove = registry_global_remove,
};

/* ---- xdg-shell: a toplevel, when the compositor offers xdg_wm_base ------ */

static void wm_base_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {.ping = wm_base_ping};

static void xdg_surface_configure(void *data, struct xdg_surface *xdg_surface, uint32_t serial)
{
	struct client *c = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	c->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = xdg_surface_configure,
};

/* The buffer has a negotiated size: the toplevel ignores suggested sizes. */
static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
			       struct wl_array *states) {}
static void toplevel_close(void *data, struct xdg_toplevel *t) {}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = toplevel_configure,
	.close = toplevel_close,
};

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct client *c = data;
	c->frame_done = true;
	wl_callback_destroy(cb);
}

static const struct wl_callback_listener frame_listener = {.done = frame_done};

/* ---- the collection's outcome ------------------------------------------ */

static void on_settings(void *data, struct wp_buffer_collection_v1 *col, uint32_t format,
			uint32_t modifier_hi, uint32_t modifier_lo, uint32_t width,
			uint32_t height, uint32_t buffer_count, uint32_t memory_kind)
{
	struct client *c = data;
	c->format = format;
	c->modifier = ((uint64_t)modifier_hi << 32) | modifier_lo;
	c->width = width;
	c->height = height;
	c->count = buffer_count;
	c->memory_kind = memory_kind;
}

static void on_buffer(void *data, struct wp_buffer_collection_v1 *col, uint32_t index,
		      uint32_t size_hi, uint32_t size_lo)
{
	struct client *c = data;
	if (index == 0)
		c->size0 = ((uint64_t)size_hi << 32) | size_lo;
}

static void on_plane(void *data, struct wp_buffer_collection_v1 *col, uint32_t buffer_index,
		     uint32_t plane_index, int32_t fd, uint32_t offset, uint32_t stride)
{
	struct client *c = data;
	/* This client draws into buffer 0's first plane only; every other fd is
	 * closed at once so none leaks. */
	if (buffer_index == 0 && plane_index == 0 && c->fd0 < 0) {
		c->fd0 = fd;
		c->offset0 = offset;
		c->stride0 = stride;
	} else {
		close(fd);
	}
	if (buffer_index == 0)
		c->planes0++;
}

static void on_allocated(void *data, struct wp_buffer_collection_v1 *col)
{
	struct client *c = data;
	c->allocated = true;
}

static void on_failed(void *data, struct wp_buffer_collection_v1 *col, uint32_t reason,
		      const char *message)
{
	struct client *c = data;
	fprintf(stderr, "c-client: collection failed (reason %u): %s\n", reason, message);
	c->failed = true;
}

static const struct wp_buffer_collection_v1_listener collection_listener = {
	.settings = on_settings,
	.buffer = on_buffer,
	.plane = on_plane,
	.allocated = on_allocated,
	.failed = on_failed,
};

static void token_handle(void *data, struct wp_buffer_collection_token_v1 *t, const char *h) {}

static void token_failed(void *data, struct wp_buffer_collection_token_v1 *t, uint32_t reason,
			 const char *message)
{
	fprintf(stderr, "c-client: token failed (reason %u): %s\n", reason, message);
}

static const struct wp_buffer_collection_token_v1_listener token_listener = {
	.handle = token_handle,
	.failed = token_failed,
};

/* ---- helpers ----------------------------------------------------------- */

static void dispatch_until(struct wl_display *display, const bool *flag, const bool *abort_flag)
{
	while (!*flag && !(abort_flag && *abort_flag)) {
		if (wl_display_dispatch(display) < 0)
			die("connection lost: %s", strerror(wl_display_get_error(display)));
	}
}

/* Brackets CPU access to a dma-buf; a memfd needs (and accepts) no sync. */
static void cpu_access(const struct client *c, uint64_t flags)
{
	if (c->memory_kind != WP_BUFFER_COLLECTION_V1_MEMORY_KIND_DMABUF)
		return;
	struct dma_buf_sync sync = {.flags = flags | DMA_BUF_SYNC_WRITE};
	while (ioctl(c->fd0, DMA_BUF_IOCTL_SYNC, &sync) < 0)
		if (errno != EINTR && errno != EAGAIN)
			die("DMA_BUF_IOCTL_SYNC: %s", strerror(errno));
}

static void paint(struct client *c)
{
	uint64_t span = (uint64_t)c->stride0 * c->height;
	if (c->stride0 < (uint64_t)c->width * 4 || c->offset0 > c->size0 ||
	    span > c->size0 - c->offset0)
		die("%s", "the negotiated layout does not fit the buffer");
	uint8_t *map = mmap(NULL, c->size0, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd0, 0);
	if (map == MAP_FAILED)
		die("mmap buffer 0: %s", strerror(errno));
	cpu_access(c, DMA_BUF_SYNC_START);
	for (uint32_t y = 0; y < c->height; y++) {
		uint32_t *row = (uint32_t *)(map + c->offset0 + (uint64_t)y * c->stride0);
		for (uint32_t x = 0; x < c->width; x++)
			row[x] = quadrant[(y >= c->height / 2) * 2 + (x >= c->width / 2)];
	}
	cpu_access(c, DMA_BUF_SYNC_END);
	munmap(map, c->size0);
}

static void fourcc_str(uint32_t f, char out[5])
{
	for (int i = 0; i < 4; i++)
		out[i] = (char)((f >> (8 * i)) & 0xff);
	out[4] = '\0';
}

/* Waits for EOF on stdin while serving the connection (pings, frames). */
static void hold(struct wl_display *display)
{
	struct pollfd fds[2] = {
		{.fd = wl_display_get_fd(display), .events = POLLIN},
		{.fd = STDIN_FILENO, .events = POLLIN},
	};
	char buf[256];
	for (;;) {
		wl_display_flush(display);
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (wl_display_dispatch(display) < 0)
				die("connection lost: %s", strerror(wl_display_get_error(display)));
		}
		if (fds[1].revents & (POLLIN | POLLHUP)) {
			if (read(STDIN_FILENO, buf, sizeof buf) <= 0)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	uint32_t min_w = 96, min_h = 48;
	bool hold_window = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%" SCNu32 "x%" SCNu32, &min_w, &min_h) != 2 ||
			    min_w == 0 || min_h == 0 || min_w > 16384 || min_h > 16384)
				die("--size wants WxH, 1..16384 each, got '%s'", argv[i]);
		} else if (strcmp(argv[i], "--hold") == 0) {
			hold_window = true;
		} else {
			die("unknown argument '%s' (usage: accord-c-client [--size WxH] [--hold])",
			    argv[i]);
		}
	}

	struct client c = {.fd0 = -1};
	struct wl_display *display = wl_display_connect(NULL);
	if (!display)
		die("cannot connect to the Wayland display '%s'",
		    getenv("WAYLAND_DISPLAY") ? getenv("WAYLAND_DISPLAY") : "wayland-0");
	struct wl_registry *registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, &c);
	if (wl_display_roundtrip(display) < 0)
		die("%s", "registry roundtrip failed");
	if (!c.compositor)
		die("%s", "the compositor has no wl_compositor");
	if (!c.manager)
		die("%s", "the compositor has no wp_buffer_collection_manager_v1 (Accord)");

	struct wl_surface *surface = wl_compositor_create_surface(c.compositor);
	struct xdg_surface *xdg_surface = NULL;
	struct xdg_toplevel *toplevel = NULL;
	if (c.wm_base) {
		xdg_wm_base_add_listener(c.wm_base, &wm_base_listener, &c);
		xdg_surface = xdg_wm_base_get_xdg_surface(c.wm_base, surface);
		xdg_surface_add_listener(xdg_surface, &xdg_surface_listener, &c);
		toplevel = xdg_surface_get_toplevel(xdg_surface);
		xdg_toplevel_add_listener(toplevel, &toplevel_listener, &c);
		xdg_toplevel_set_title(toplevel, "accord-c-client");
		wl_surface_commit(surface);
	}

	/* Feed-forward: every request below goes out before any reply. */
	struct wp_buffer_collection_token_v1 *token =
		wp_buffer_collection_manager_v1_create_collection(c.manager);
	wp_buffer_collection_token_v1_add_listener(token, &token_listener, &c);
	wp_buffer_collection_token_v1_set_name(token, "c-client");
	struct wp_buffer_collection_token_v1 *for_surface =
		wp_buffer_collection_token_v1_duplicate(token);
	wp_buffer_collection_token_v1_add_listener(for_surface, &token_listener, &c);
	wp_buffer_collection_manager_v1_attach_surface(c.manager, for_surface, surface);
	wp_buffer_collection_token_v1_destroy(for_surface);

	struct wp_buffer_collection_v1 *collection = wp_buffer_collection_token_v1_bind(token);
	wp_buffer_collection_token_v1_destroy(token);
	wp_buffer_collection_v1_add_listener(collection, &collection_listener, &c);
	wp_buffer_collection_v1_set_usage(collection, WP_BUFFER_COLLECTION_V1_USAGE_CPU_WRITE);
	/* One 16-byte entry: u32 format, u32 flags, u64 modifier, host order. */
	struct {
		uint32_t format, flags;
		uint64_t modifier;
	} pair = {DRM_FORMAT_XRGB8888, 0, DRM_FORMAT_MOD_LINEAR};
	struct wl_array pairs = {.size = sizeof pair, .alloc = sizeof pair, .data = &pair};
	wp_buffer_collection_v1_add_formats(collection, &pairs);
	wp_buffer_collection_v1_set_size_range(collection, min_w, min_h, 0, 0);
	wp_buffer_collection_v1_set_stride(collection, 0, 0, 64);
	/* Two buffers: one shown while the next is drawn. */
	wp_buffer_collection_v1_set_buffer_counts(collection, 1, 0, 0, 2, 0);
	wp_buffer_collection_v1_commit(collection);

	dispatch_until(display, &c.allocated, &c.failed);
	if (c.failed)
		return 1;
	if (c.fd0 < 0 || c.count == 0)
		die("%s", "allocated without buffer 0's plane");
	if (c.format != DRM_FORMAT_XRGB8888 || c.modifier != DRM_FORMAT_MOD_LINEAR)
		die("%s", "negotiated a layout other than the one offered (XRGB8888 LINEAR)");

	char fourcc[5];
	fourcc_str(c.format, fourcc);
	printf("c-client: negotiated format=%s modifier=0x%" PRIx64 " size=%" PRIu32 "x%" PRIu32
	       " buffers=%" PRIu32 " memory=%s\n",
	       fourcc, c.modifier, c.width, c.height, c.count,
	       c.memory_kind == WP_BUFFER_COLLECTION_V1_MEMORY_KIND_DMABUF ? "dmabuf" : "memfd");
	printf("c-client: buffer 0 plane 0 offset=%" PRIu32 " stride=%" PRIu32 " bytes=%" PRIu64
	       "\n",
	       c.offset0, c.stride0, c.size0);
	fflush(stdout);

	paint(&c);

	if (xdg_surface)
		dispatch_until(display, &c.configured, NULL);
	struct wl_buffer *buffer = wp_buffer_collection_v1_get_wl_buffer(collection, 0);
	wl_surface_attach(surface, buffer, 0, 0);
	wl_surface_damage(surface, 0, 0, (int32_t)c.width, (int32_t)c.height);
	struct wl_callback *frame = wl_surface_frame(surface);
	wl_callback_add_listener(frame, &frame_listener, &c);
	wl_surface_commit(surface);
	/* A compositor without a shell may never draw the surface, so frame
	 * callbacks are awaited only for a toplevel. */
	if (xdg_surface)
		dispatch_until(display, &c.frame_done, NULL);
	else if (wl_display_roundtrip(display) < 0)
		die("connection lost: %s", strerror(wl_display_get_error(display)));
	printf("c-client: presented\n");
	fflush(stdout);

	if (hold_window)
		hold(display);

	if (toplevel)
		xdg_toplevel_destroy(toplevel);
	if (xdg_surface)
		xdg_surface_destroy(xdg_surface);
	wl_surface_destroy(surface);
	wl_buffer_destroy(buffer);
	wp_buffer_collection_v1_destroy(collection);
	close(c.fd0);
	if (wl_display_roundtrip(display) < 0)
		die("connection lost: %s", strerror(wl_display_get_error(display)));
	wl_display_disconnect(display);
	return 0;
}
