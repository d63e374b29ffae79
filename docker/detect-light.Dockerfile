# Light detect Lambda: YOLO11n (OpenVINO IR) on the OpenVINO runtime, numpy pre/post-processing.
# No torch, torchvision, Ultralytics or OpenCV: ~0.4 GB of site-packages instead of ~5.5 GB.
# Build context: the repository root, with the detector IR copied to models/ beforehand, e.g.
#   cp -r ../shared/models/yolo11n_int8_openvino_model models/
#   docker build -f docker/detect-light.Dockerfile --build-arg CODE_VERSION=$(git rev-parse --short HEAD) .
FROM public.ecr.aws/lambda/python:3.11

ARG CODE_VERSION=unknown
ENV SKILLFORGE_CODE_VERSION=${CODE_VERSION} \
    SKILLFORGE_DETECTOR_BACKEND=openvino \
    SKILLFORGE_MODELS_DIR=/opt/models \
    PYTHONDONTWRITEBYTECODE=1

COPY requirements-lambda.txt requirements-lambda-light.txt ./
# openvino-telemetry is only used by OpenVINO's conversion tools; without it nothing can phone home.
RUN pip install --no-cache-dir -r requirements-lambda-light.txt \
 && pip uninstall -y openvino-telemetry \
 && rm -rf /root/.cache

COPY models/yolo11n_int8_openvino_model /opt/models/yolo11n_int8_openvino_model
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/

CMD ["functions.detect.handler.handler"]
