//! The headless target: one offscreen buffer that nothing scans out (a
//! Pixman image, or a GLES texture).

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{Bind, Offscreen},
    },
    output::{Mode, PhysicalProperties, Subpixel},
    utils::Size,
};

use super::{
    renderer::FrameRenderer,
    target::{read_framebuffer, DrawFn, DrawTarget, OutputTarget},
    Error, Screenshot,
};

/// An offscreen output of a fixed size.
pub struct HeadlessTarget<B> {
    image: B,
    size: Size<i32, smithay::utils::Buffer>,
    refresh_mhz: i32,
    /// 0 until the first frame is drawn, then 1: the single image keeps the
    /// previous frame, which lets the damage tracker redraw only what changed.
    age: usize,
}

impl<B> HeadlessTarget<B> {
    pub fn new(
        renderer: &mut impl Offscreen<B>,
        width: i32,
        height: i32,
        refresh_mhz: i32,
    ) -> Result<Self, Error> {
        if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) {
            return Err(format!("output size {width}x{height} is outside 1..=16384").into());
        }
        let size = Size::from((width, height));
        let image = renderer
            .create_buffer(Fourcc::Xrgb8888, size)
            .map_err(|e| format!("cannot create the {width}x{height} output buffer: {e}"))?;
        Ok(Self {
            image,
            size,
            refresh_mhz,
            age: 0,
        })
    }
}

impl<B> OutputTarget for HeadlessTarget<B> {
    fn output_name(&self) -> String {
        "HEADLESS-1".into()
    }

    fn mode(&self) -> Mode {
        Mode {
            size: (self.size.w, self.size.h).into(),
            refresh: self.refresh_mhz,
        }
    }

    fn physical_properties(&self) -> PhysicalProperties {
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Accord".into(),
            model: "headless".into(),
        }
    }
}

impl<R: FrameRenderer + Bind<B>, B> DrawTarget<R> for HeadlessTarget<B> {
    fn render_frame(&mut self, renderer: &mut R, draw: &mut DrawFn<'_, R>) -> Result<(), Error> {
        let mut framebuffer = renderer.bind(&mut self.image)?;
        draw(renderer, &mut framebuffer, self.age)?;
        self.age = 1;
        Ok(())
    }

    fn read_pixels(&mut self, renderer: &mut R) -> Result<Screenshot, Error> {
        let size = self.size;
        let framebuffer = renderer.bind(&mut self.image)?;
        read_framebuffer(renderer, &framebuffer, size)
    }
}
