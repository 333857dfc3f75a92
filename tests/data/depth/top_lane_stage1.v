module top_lane_stage1 (input [51:0] model_inp, output [16:0] model_out);
    // the AND of 36 bits (two LUT6 levels) beside the sum, registered as it is
    assign model_out[16] = &model_inp[51:16];
    assign model_out[15:0] = model_inp[15:0];
endmodule
