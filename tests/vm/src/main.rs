//! Real-kernel tests. They need the QEMU guest's devices: `card0`
//! (virtio-gpu, KMS, mode 1280x720), `card1` (vgem) and `/dev/video0`
//! (vivid). On a machine without `/dev/dri` this
//! binary fails loudly instead of skipping: run it with `tests/vm/run`
//! (`tests/vm/run target/release/accord-vm-tests NAME_PART...` runs only the
//! tests whose name contains one of the NAME_PARTs). A test that needs another machine
//! shape (GPU options, devices, kernel arguments) is in [`MACHINE_TESTS`]:
//! `accord-vm-tests --machines` lists them with the runner's flags (on the
//! host), and `tests/vm/run` boots each in a VM of that shape and runs it
//! with `--machine-test NAME`.

mod backends;
mod capture;
mod common;
mod confirm;
mod default_renderer;
mod dmabuf;
mod faults;
mod gles;
mod groups;
mod gstreamer;
mod gstreamer_app;
mod harness;
mod info;
mod outputs;
mod placement;
mod probe;
mod refcomp_drm;
mod scanout;
mod tour;
mod v4l2;
mod weston_feedback;

/// Tests that boot a machine of their own shape (one VM each).
const MACHINE_TESTS: &[harness::MachineTest] = &[
    (
        "second_virtio_gpu_output_connected_by_kernel_argument",
        outputs::MACHINE,
        outputs::second_output_connected_by_kernel_argument,
    ),
    (
        "refcomp_fullscreen_windowed_fullscreen_on_each_output",
        tour::MACHINE,
        tour::fullscreen_windowed_fullscreen_on_each_output,
    ),
    (
        "refcomp_drm_gles_toggles_show_every_frame",
        tour::GLES_MACHINE,
        tour::gles_toggles_show_every_frame,
    ),
    (
        "refcomp_gles_fullscreen_windowed_on_each_output",
        tour::MACHINE,
        tour::gles_on_each_output,
    ),
];

fn main() {
    // `--machines` runs on the host: `tests/vm/run` reads the shapes.
    if std::env::args().nth(1).as_deref() == Some("--machines") {
        for (name, machine, _) in MACHINE_TESTS {
            println!("{name} {}", machine.flags().join(" "));
        }
        return;
    }
    if !std::path::Path::new(common::CARD0).exists() {
        eprintln!(
            "accord-vm-tests: {} missing. These tests need the QEMU guest's real DRM devices; run them with tests/vm/run.",
            common::CARD0
        );
        std::process::exit(1);
    }
    // The camera-pair test runs this binary again as each process.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(accord_examples::camera_pair::ROLE_FLAG) {
        std::process::exit(match accord_examples::camera_pair::role_main(&argv[2..]) {
            std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    // `scripts/capture-scenario`: print the virtio-gpu capture and stop.
    if std::env::args().nth(1).as_deref() == Some("--capture-virtio-gpu") {
        match capture::capture() {
            Ok(v) => println!("{}", serde_json::to_string_pretty(&v).expect("JSON")),
            Err(e) => {
                eprintln!("accord-vm-tests: capture failed: {e}");
                std::process::exit(1);
            }
        }
        return;
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
        ("raw_bytes_from_dumb_heap_udmabuf", backends::raw_bytes),
        ("detect_lists_backends", backends::detect_lists),
        (
            "placement_naming_card0_lands_on_card0",
            placement::naming_card0_lands_on_card0,
        ),
        (
            "placement_naming_only_vgem_lands_on_vgem",
            placement::naming_only_vgem_lands_on_vgem,
        ),
        (
            "placement_cpu_only_lands_on_system_memory",
            placement::cpu_only_lands_on_system_memory,
        ),
        (
            "placement_contiguous_fails_clearly_without_a_contiguous_backend",
            placement::contiguous_fails_clearly_without_a_contiguous_backend,
        ),
        (
            "placement_quota_per_backend_returns_to_zero",
            placement::quota_per_backend_returns_to_zero,
        ),
        (
            "dumb_export_fault_at_buffer_2_releases_buffers_0_and_1",
            faults::dumb_export_fault_releases_earlier_buffers,
        ),
        (
            "gbm_export_fault_at_buffer_2_releases_buffers_0_and_1",
            faults::gbm_export_fault_releases_earlier_buffers,
        ),
        (
            "dma_heap_alloc_fault_at_buffer_2_releases_buffers_0_and_1",
            faults::dma_heap_alloc_fault_releases_earlier_buffers,
        ),
        (
            "udmabuf_create_fault_at_buffer_2_releases_buffers_0_and_1",
            faults::udmabuf_create_fault_releases_earlier_buffers,
        ),
        (
            "accordsink_v4l2_dmabuf_import_direct_scanout",
            gstreamer::accordsink_v4l2_dmabuf_import_direct_scanout,
        ),
        (
            "accordsink_adopts_the_generations_fullscreen_toggles_start",
            gstreamer_app::accordsink_adopts_the_generations_fullscreen_toggles_start,
        ),
        (
            "accordsink_memory_dmabuf_on_card0_copies_nothing",
            gstreamer_app::accordsink_memory_dmabuf_on_card0_copies_nothing,
        ),
        (
            "refcomp_drm_collection_direct_scanout_60_frames",
            refcomp_drm::collection_direct_scanout_60_frames,
        ),
        (
            "refcomp_drm_rejected_scanout_falls_back_through_wayland",
            confirm::rejected_scanout_falls_back_through_wayland,
        ),
        (
            "refcomp_drm_group_child_chosen_by_scanout_confirmation",
            groups::scanout_confirmation_selects_the_group_child,
        ),
        (
            "refcomp_drm_dumb_direct_scanout_60_frames",
            refcomp_drm::dumb_direct_scanout_60_frames,
        ),
        (
            "refcomp_drm_forced_composition",
            refcomp_drm::forced_composition,
        ),
        (
            "refcomp_drm_windowed_is_composited",
            refcomp_drm::windowed_is_composited,
        ),
        (
            "refcomp_drm_gles_collection_direct_scanout_60_frames",
            refcomp_drm::gles_collection_direct_scanout_60_frames,
        ),
        (
            "refcomp_drm_gles_windowed_is_composited",
            refcomp_drm::gles_windowed_is_composited,
        ),
        (
            "gles_card0_imports_nv12_and_its_planes",
            gles::card0_imports_nv12,
        ),
        (
            "refcomp_drm_gles_nv12_bt601_colour_bars",
            gles::nv12_bt601_colour_bars,
        ),
        (
            "refcomp_drm_gles_nv12_bt709_colour_bars",
            gles::nv12_bt709_colour_bars,
        ),
        (
            "refcomp_drm_gles_nv12_bt709_full_range_colour_bars",
            gles::nv12_bt709_full_range_colour_bars,
        ),
        (
            "refcomp_drm_gles_nv12_placement_reaches_the_renderer_device",
            gles::nv12_placement_reaches_the_renderer_device,
        ),
        (
            "refcomp_drm_pixman_nv12_fails_no_common_format_gles_contrast",
            gles::pixman_nv12_fails_no_common_format,
        ),
        (
            "weston_simple_dmabuf_egl_100_frames_gles",
            gles::weston_simple_dmabuf_egl_100_frames,
        ),
        (
            "refcomp_drm_viewport_scaling_falls_back_to_composition",
            refcomp_drm::viewport_scaling_falls_back_to_composition,
        ),
        (
            "weston_simple_dmabuf_feedback_argb8888_scanout_through_xrgb8888",
            weston_feedback::scans_out_argb8888_through_xrgb8888,
        ),
        (
            "accord_info_json_lists_devices",
            info::lists_virtio_gpu_and_vgem,
        ),
        ("accord_info_text_lists_nodes", info::text_lists_nodes),
        (
            "refcomp_drm_default_renderer_is_gles",
            default_renderer::kms_default_is_gles,
        ),
        (
            "accord_info_gles_on_card0_is_the_live_renderers",
            info::gles_on_card0_is_the_live_renderers,
        ),
        (
            "virtio_gpu_scenario_capture_is_current",
            capture::virtio_gpu_capture_is_current,
        ),
        ("v4l2_accord_info_lists_vivid", v4l2::info_lists_vivid),
        (
            "v4l2_vivid_constraints_match_the_driver",
            v4l2::constraints_match_driver,
        ),
        (
            "v4l2_vivid_captures_into_compositor_allocated_collection",
            v4l2::captures_into_collection,
        ),
        (
            "v4l2_camera_to_scanout_60_frames_direct",
            v4l2::camera_to_scanout_60_frames,
        ),
        (
            "v4l2_camera_process_and_player_60_frames_direct",
            v4l2::camera_process_and_player_60_frames,
        ),
        (
            "v4l2_yuyv_camera_fails_no_common_format",
            v4l2::yuyv_camera_fails_no_common_format,
        ),
    ];
    // `--machine-test NAME`: that test alone, in the VM of its shape.
    if std::env::args().nth(1).as_deref() == Some("--machine-test") {
        let name = std::env::args().nth(2).unwrap_or_default();
        let Some(&(name, _, f)) = MACHINE_TESTS.iter().find(|t| t.0 == name) else {
            eprintln!("accord-vm-tests: no machine test {name:?}");
            std::process::exit(1);
        };
        std::process::exit(if harness::run(&[(name, f)]) == 0 {
            0
        } else {
            1
        });
    }
    // `accord-vm-tests NAME_PART...`: only the tests whose name contains
    // one of them (the 6.1 smoke run in `scripts/test` picks a few).
    let parts: Vec<String> = std::env::args().skip(1).collect();
    let selected: Vec<harness::Test> = tests
        .iter()
        .filter(|(name, _)| parts.is_empty() || parts.iter().any(|p| name.contains(p.as_str())))
        .copied()
        .collect();
    let failed = harness::run(&selected);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
