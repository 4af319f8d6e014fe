//! `zwp_linux_buffer_params_v1` through smithay's `DmabufState`, with one
//! interpretation added: when the target says so (a KMS device without
//! modifier support), a plane added with the implicit modifier
//! (`DRM_FORMAT_MOD_INVALID`) is taken as LINEAR.
//!
//! Why: such a device has a single layout. Its framebuffers are created
//! without modifiers and the kernel records them as LINEAR, so the display
//! reads an implicit buffer as linear, and the compositor's Pixman renderer
//! (LINEAR only) reads it the same way. Mesa's software GBM (`kms_swrast`,
//! the only GBM on virtio-gpu without virgl) cannot allocate with a modifier
//! list, so GBM clients such as `weston-simple-dmabuf-feedback` fall back to
//! `gbm_bo_create` and send the implicit modifier. (Weston's own Pixman
//! renderer maps every implicit dma-buf as linear; this is narrower.)
//!
//! Everything else, validation included, is smithay's: the rewritten
//! request goes to `DmabufState`'s own `Dispatch` impl. The remaining
//! linux-dmabuf objects are delegated as `delegate_dmabuf!` would.

use accord_engine::MOD_INVALID;
use smithay::{
    backend::allocator::dmabuf::Dmabuf,
    reexports::{
        wayland_protocols::wp::linux_dmabuf::zv1::server::{
            zwp_linux_buffer_params_v1::{self, ZwpLinuxBufferParamsV1},
            zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1,
            zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1,
        },
        wayland_server::{
            delegate_dispatch, delegate_global_dispatch, protocol::wl_buffer::WlBuffer, Client,
            DataInit, Dispatch, DisplayHandle,
        },
    },
    wayland::dmabuf::{
        DmabufData, DmabufFeedbackData, DmabufGlobalData, DmabufParamsData, DmabufState,
    },
};

use super::state::RefState;

delegate_global_dispatch!(RefState: [ZwpLinuxDmabufV1: DmabufGlobalData] => DmabufState);
delegate_dispatch!(RefState: [ZwpLinuxDmabufV1: DmabufData] => DmabufState);
delegate_dispatch!(RefState: [WlBuffer: Dmabuf] => DmabufState);
delegate_dispatch!(RefState: [ZwpLinuxDmabufFeedbackV1: DmabufFeedbackData] => DmabufState);

impl Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData> for RefState {
    fn request(
        state: &mut Self,
        client: &Client,
        params: &ZwpLinuxBufferParamsV1,
        request: zwp_linux_buffer_params_v1::Request,
        data: &DmabufParamsData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let request = match request {
            zwp_linux_buffer_params_v1::Request::Add {
                fd,
                plane_idx,
                offset,
                stride,
                modifier_hi,
                modifier_lo,
            } if (u64::from(modifier_hi) << 32 | u64::from(modifier_lo)) == MOD_INVALID
                && state.screen.target().implicit_modifier_is_linear() =>
            {
                zwp_linux_buffer_params_v1::Request::Add {
                    fd,
                    plane_idx,
                    offset,
                    stride,
                    modifier_hi: 0,
                    modifier_lo: 0,
                }
            }
            other => other,
        };
        <DmabufState as Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData, Self>>::request(
            state, client, params, request, data, dh, data_init,
        );
    }
}
