//! Real-kernel tests. They need the QEMU guest's devices: `card0`
//! (virtio-gpu, KMS) and `card1` (vgem). On a machine without `/dev/dri` this
//! binary fails loudly instead of skipping: run it with `tests/vm/run`.

mod backends;
mod common;
mod dmabuf;
mod harness;
mod probe;
mod scanout;

fn main() {
    if !std::path::Path::new(common::CARD0).exists() {
        eprintln!(
            "accord-vm-tests: {} missing. These tests need the QEMU guest's real DRM devices; run them with tests/vm/run.",
            common::CARD0
        );
        std::process::exit(1);
    }
    let tests: &[harness::Test] = &[
        ("probe_virtio_gpu_planes", probe::virtio_gpu_planes),
        (
            "compositor_formats_mark_only_plane_pairs_scanout",
            probe::compositor_formats_mark_scanout,
        ),
        (
            "dumb_card0_buffers_are_dmabufs",
            dmabuf::dumb_card0_are_dmabufs,
        ),
        (
            "dumb_card1_vgem_buffers_are_dmabufs",
            dmabuf::dumb_vgem_are_dmabufs,
        ),
        (
            "dumb_dmabuf_mmap_pixel_reads_back",
            dmabuf::mmap_pixel_reads_back,
        ),
        ("dumb_respects_stride_alignment", dmabuf::stride_alignment),
        (
            "dumb_nv12_follows_engine_layout",
            dmabuf::nv12_engine_layout,
        ),
        (
            "test_only_accepts_xrgb8888_on_primary",
            scanout::accepts_xrgb8888,
        ),
        (
            "test_only_rejects_argb8888_on_primary",
            scanout::rejects_argb8888,
        ),
        (
            "test_only_rejects_a_size_needing_scaling",
            scanout::rejects_scaling,
        ),
        (
            "negotiated_xrgb8888_scanout_on_card0",
            scanout::negotiated_scanout_on_card0,
        ),
        (
            "fallback_skips_candidate_rejected_by_test_only",
            scanout::fallback_skips_rejected_candidate,
        ),
        (
            "fallback_to_renderer_only_when_nothing_scans_out",
            scanout::fallback_to_renderer_only,
        ),
        (
            "vgem_buffer_does_not_import_into_card0",
            scanout::vgem_does_not_import,
        ),
        (
            "vgem_placement_rejected_scanout_lands_on_card0",
            scanout::vgem_placement_rejected,
        ),
        ("failures_leak_no_fds", scanout::failures_leak_no_fds),
        ("gbm_card0", backends::gbm_card0),
        ("dma_heap_system", backends::dma_heap),
        ("udmabuf", backends::udmabuf),
        ("detect_lists_backends", backends::detect_lists),
    ];
    let failed = harness::run(tests);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
