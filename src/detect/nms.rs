//! Non-maximum suppression in the two flavours facenet-pytorch mixes: torchvision's
//! `nms` (IoU with continuous areas) for the first two stages, and the original MATLAB
//! code's "Min" overlap (pixel-inclusive areas, intersection over the smaller box) after
//! the last stage. Matching each one exactly keeps our candidates identical to the
//! reference's.

/// Box corners `[x1, y1, x2, y2]`.
pub type Corners = [f32; 4];

/// Indices of the boxes kept by torchvision-style NMS, highest score first: a box is
/// dropped when its IoU with a kept, higher-scoring box is greater than `threshold`.
pub fn nms_iou(boxes: &[Corners], scores: &[f32], threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let area = |b: &Corners| (b[2] - b[0]) * (b[3] - b[1]);
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        let a = &boxes[i];
        for &j in &order[rank + 1..] {
            if suppressed[j] {
                continue;
            }
            let b = &boxes[j];
            let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
            let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
            let inter = w * h;
            if inter / (area(a) + area(b) - inter) > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// The MATLAB/Caffe MTCNN suppression with the "Min" criterion and +1 pixel areas; a box
/// survives while its overlap with every kept box is at most `threshold`.
pub fn nms_min(boxes: &[Corners], scores: &[f32], threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let area = |b: &Corners| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    let mut keep = Vec::new();
    while let Some((&i, rest)) = order.split_first() {
        keep.push(i);
        let a = &boxes[i];
        order = rest
            .iter()
            .copied()
            .filter(|&j| {
                let b = &boxes[j];
                let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
                let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
                w * h / area(a).min(area(b)) <= threshold
            })
            .collect();
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 11.0, 11.0], // IoU with the first = 81/119 = 0.68
            [20.0, 20.0, 30.0, 30.0],
        ];
        let scores = [0.8, 0.9, 0.7];
        assert_eq!(nms_iou(&boxes, &scores, 0.5), vec![1, 2]);
        assert_eq!(nms_iou(&boxes, &scores, 0.7), vec![1, 0, 2]);
    }

    #[test]
    fn min_nms_suppresses_a_box_inside_another() {
        // The small box lies inside the big one: IoU is low but "Min" overlap is 1.
        let boxes = [[0.0, 0.0, 99.0, 99.0], [10.0, 10.0, 19.0, 19.0]];
        let scores = [0.95, 0.99];
        assert_eq!(nms_min(&boxes, &scores, 0.7), vec![1]);
        assert_eq!(nms_iou(&boxes, &scores, 0.7), vec![1, 0]);
    }
}
