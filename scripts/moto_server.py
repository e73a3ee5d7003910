"""Runs moto's server (EC2, STS, EKS, SSM, IAM) on 127.0.0.1:<port> for the tests, until stdin
closes.

moto does not hold the public SSM parameters that name the EKS-optimised images, and refuses to
put parameters under /aws/. This script serves them, in every account and region, the way
moto serves its own /aws/service/ami-amazon-linux-latest parameters: AL2023 and Bottlerocket for
Kubernetes 1.28 to 1.33, an x86_64 and an arm64 image moto knows (al2022 builds).

Usage: python3 scripts/moto_server.py <port>   (prints "ready" once it serves)
"""
import sys
import time

from moto.server import ThreadedMotoServer
from moto.ssm import models as ssm

IMAGES = {"x86_64": "ami-076f415166b04f5fe", "arm64": "ami-0e9271c829888680e"}
VERSIONS = ["1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]


def eks_image_parameters():
    for version in VERSIONS:
        for arch, image in IMAGES.items():
            yield (
                f"/aws/service/eks/optimized-ami/{version}/amazon-linux-2023/{arch}/standard/recommended/image_id",
                image,
            )
            yield f"/aws/service/bottlerocket/aws-k8s-{version}/{arch}/latest/image_id", image


original_check = ssm.ParameterDict._check_loading_status


def check_loading_status(self, key):
    original_check(self, key)
    key = str(key or "")
    eks = key.startswith("/aws/service/eks/") or key.startswith("/aws/service/bottlerocket/")
    if eks and not getattr(self, "eks_images_loaded", False):
        self.eks_images_loaded = True
        for name, image in eks_image_parameters():
            super(ssm.ParameterDict, self).__getitem__(name).append(
                ssm.Parameter(
                    account_id=self.account_id,
                    name=name,
                    value=image,
                    parameter_type="String",
                    description=None,
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=time.time(),
                    version=1,
                    data_type="aws:ec2:image",
                )
            )


ssm.ParameterDict._check_loading_status = check_loading_status

server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]))
server.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    server.stop()
