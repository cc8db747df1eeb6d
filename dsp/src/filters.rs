//! Small IIR building blocks shared by the detectors (RBJ cookbook biquads).

use crate::SAMPLE_RATE;

/// One second-order section, direct form I.
#[derive(Debug, Clone)]
pub(crate) struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
    x: [f32; 2],
    y: [f32; 2],
}

impl Biquad {
    /// High-pass at `fc` with quality `q`.
    pub(crate) fn high_pass(fc: f32, q: f32) -> Self {
        let w0 = 2.0 * std::f32::consts::PI * fc / SAMPLE_RATE as f32;
        let alpha = w0.sin() / (2.0 * q);
        let cos = w0.cos();
        let a0 = 1.0 + alpha;
        let b0 = (1.0 + cos) / 2.0 / a0;
        Self {
            b: [b0, -2.0 * b0, b0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    #[inline]
    pub(crate) fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        // Flush denormals / non-finite state so silence after a loud burst
        // cannot slow the loop down or poison later output.
        let y = if y.is_finite() && y.abs() > 1e-20 {
            y
        } else {
            0.0
        };
        self.y = [y, self.y[0]];
        y
    }

    pub(crate) fn reset(&mut self) {
        self.x = [0.0; 2];
        self.y = [0.0; 2];
    }
}

/// Fourth-order Butterworth high-pass (two sections).
#[derive(Debug, Clone)]
pub(crate) struct HighPass4 {
    s: [Biquad; 2],
}

impl HighPass4 {
    pub(crate) fn new(fc: f32) -> Self {
        // Butterworth pole-pair quality factors for order 4.
        Self {
            s: [
                Biquad::high_pass(fc, 0.541_196_1),
                Biquad::high_pass(fc, 1.306_563),
            ],
        }
    }

    #[inline]
    pub(crate) fn run(&mut self, x: f32) -> f32 {
        let y = self.s[0].run(x);
        self.s[1].run(y)
    }

    pub(crate) fn reset(&mut self) {
        self.s.iter_mut().for_each(Biquad::reset);
    }
}
