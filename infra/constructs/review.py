"""Expert review: Cognito user pool + API Gateway REST API (Cognito authorizer) + the review Lambda.

The static page files are public methods (they hold no data); every /api route requires a Cognito
id token. Experts sign in on the Cognito hosted UI, which sends them back to the page with the token.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.core.base.resources import STATUS_INDEX
from functions.core.skills.launch import LAUNCH_PREFIX
from infra.checkov import skip_check
from infra.constructs.notifications import REPORT_OBJECTS
from infra.constructs.python_code import FunctionDefaults, zip_function
from infra.grants import allow, allow_items, allow_objects
from infra.nag import acknowledge_function_basics, acknowledge_resources, suppress

API_STAGE = "review"
_SYNCHRONOUS = "Invoked synchronously behind API Gateway: an error goes back to the caller, not to a DLQ."
PUBLIC_FILES = (
    "session.js",
    "review.js",
    "review.css",
    "config.json",
    "index.html",
    "dashboard.html",
    "dashboard.js",
    "dashboard.css",
)


@dataclass(frozen=True)
class ReviewConfig:
    domain_prefix: str  # Cognito hosted-UI domain prefix (globally unique per region)
    crop_padding: float = 0.05  # as detection's SKILLFORGE_CROP_PADDING (green box position)
    throttle_rate: int = 20
    throttle_burst: int = 40


class Review(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        config: ReviewConfig,
        crops_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        stage = defaults.stage
        self.crops_bucket = crops_bucket
        self.artifacts_bucket = artifacts_bucket
        self.user_pool = cognito.UserPool(
            self,
            "Experts",
            user_pool_name=f"skillforge-{stage}-experts",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.domain = self.user_pool.add_domain(
            "HostedUi", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=config.domain_prefix)
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"skillforge-{stage}-review",
            description=f"skillforge {stage}: expert review page and API",
            binary_media_types=["image/jpeg"],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                access_log_destination=apigw.LogGroupLogDestination(
                    logs.LogGroup(
                        self,
                        "AccessLogs",
                        retention=defaults.log_retention,
                        removal_policy=defaults.removal_policy,
                    )
                ),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=config.throttle_rate,
                throttling_burst_limit=config.throttle_burst,
            ),
        )
        # The page's own URL, built without the deployment (no dependency cycle through the function).
        page_origin = f"https://{self.api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}"
        page_url = f"{page_origin}/{API_STAGE}/"
        self.client = self.user_pool.add_client(
            "Page",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(implicit_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[page_url],
                logout_urls=[page_url],
            ),
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            prevent_user_existence_errors=True,
        )
        login_url = (
            f"{self.domain.base_url()}/login?client_id={self.client.user_pool_client_id}"
            f"&response_type=token&scope=openid+email&redirect_uri={page_url}"
        )
        self.function = zip_function(
            self,
            "Function",
            module="review_api",
            description="expert review API (Cognito-authenticated)",
            defaults=defaults,
            environment={
                "SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name,
                "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "SKILLFORGE_CATALOG_TABLE": table.table_name,
                "SKILLFORGE_CROP_PADDING": str(config.crop_padding),
                "SKILLFORGE_REVIEW_LOGIN_URL": login_url,
                "SKILLFORGE_REVIEW_ALLOWED_ORIGIN": page_origin,  # state-changing calls from others → 403
            },
            timeout=Duration.seconds(29),
            memory_mb=512,
        )
        # Review queue (status index), crop/image/decision/reviewer items, transactional decisions
        # (Put/Update inside TransactWriteItems), known classes (update); crop images to signed-in experts.
        self.table = table
        allow_items(
            self.function,
            [
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Scan",
            ],
            table,
        )
        allow_objects(self.function, ["s3:GetObject"], crops_bucket, "")
        # The dashboard (same API): registry/gate items (Scan), every stage's deployed versions (SSM
        # parameters under /skillforge/), and presigned links to the gate's reports.
        skill_parameters = Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name="skillforge/*"
        )
        allow(self.function, ["ssm:GetParametersByPath"], [skill_parameters])
        reports = artifacts_bucket.arn_for_objects(REPORT_OBJECTS)
        allow(self.function, ["s3:GetObject"], [reports])
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "The dashboard reads every stage's deployed skill versions (parameters under /skillforge/) "
            f"and links every skill version's gate report ({REPORT_OBJECTS}); both are created at run time.",
            findings=[
                "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/skillforge/*",
                f"Resource::<{Stack.of(self).get_logical_id(artifacts_bucket.node.default_child)}.Arn>/"  # type: ignore[arg-type]
                f"{REPORT_OBJECTS}",
            ],
        )

        integration = apigw.LambdaIntegration(self.function)
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[self.user_pool]
        )
        authorized = apigw.MethodOptions(
            authorizer=self.authorizer, authorization_type=apigw.AuthorizationType.COGNITO
        )
        public_methods = [self.api.root.add_method("GET", integration)]
        for name in PUBLIC_FILES:
            public_methods.append(self.api.root.add_resource(name).add_method("GET", integration))
        api_resource = self.api.root.add_resource("api")
        api_resource.add_proxy(
            default_integration=integration, any_method=True, default_method_options=authorized
        )
        self.page_url = page_url
        self._acknowledge(public_methods)

    def allow_make_skill(self, state_machine: sfn.IStateMachine, state_machine_name: str) -> None:
        """The dashboard's Make skill button: start make-skill executions from the published launch
        templates (launch/<config>.json) and read their progress, on that one state machine only."""
        self.function.add_environment(
            "SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN", state_machine.state_machine_arn
        )
        allow(self.function, ["states:StartExecution"], [state_machine.state_machine_arn])
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        allow(self.function, ["states:DescribeExecution", "states:GetExecutionHistory"], [executions])
        # the templates (GetObject), the list of published ones (ListBucket on launch/ only); the next
        # version is reserved with UpdateItem on the catalog (the registry's counter), granted above
        allow_objects(self.function, ["s3:GetObject"], self.artifacts_bucket, LAUNCH_PREFIX)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{LAUNCH_PREFIX}/*"]}},
            )
        )
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "The dashboard describes the make-skill executions it started (named per run: "
            f"execution:{state_machine_name}:*) and reads the launch templates under {LAUNCH_PREFIX}/ "
            "(one per published skill config).",
            findings=[
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                f"{state_machine_name}:*",
                f"Resource::<{Stack.of(self).get_logical_id(self.artifacts_bucket.node.default_child)}.Arn>/"  # type: ignore[arg-type]
                f"{LAUNCH_PREFIX}/*",
            ],
        )

    def _acknowledge(self, public_methods: list[apigw.Method]) -> None:
        skip_check(
            self.api.deployment_stage,
            "CKV_AWS_120",
            "No cache: answers are per reviewer and change with every decision.",
        )
        skip_check(self.function, "CKV_AWS_116", _SYNCHRONOUS)
        for method in public_methods:
            skip_check(
                method,
                "CKV_AWS_59",
                "Public GET of the static page shell (no data); every /api route uses the Cognito "
                "authorizer.",
            )
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                suppress(
                    method,
                    rule,
                    "Public GET of the static page shell (HTML/JS/CSS/login config): no data; every "
                    "/api route uses the Cognito authorizer.",
                )
        suppress(
            self.api,
            "AwsSolutions-APIG2",
            "Requests are validated by the review router (pydantic models, 400 naming the problem).",
        )
        suppress(
            self.api,
            "AwsSolutions-APIG3",
            "Internal expert tool behind Cognito (MFA required) with stage throttling; attach a WAF "
            "web ACL per deployment if the page is exposed more widely.",
        )
        acknowledge_function_basics(self, [self.function])
        acknowledge_resources(
            self,
            "s3:GetObject on the crops bucket's keys (the API serves crop images to signed-in experts) "
            "and Query on the catalog's status index (the review queue).",
            [self.crops_bucket.arn_for_objects("*"), f"{self.table.table_arn}/index/{STATUS_INDEX}"],
        )
